package gen

import (
	"encoding/json"
	"math/rand/v2"
	"sort"
	"time"
)

type highScore struct {
	Rank  int    `json:"rank"`
	Name  string `json:"name"`
	Score int    `json:"score"`
	Level int    `json:"level"`
	Date  string `json:"date"`
}

type highScores struct {
	Game    string      `json:"game"`
	Format  int         `json:"format"`
	Player  string      `json:"player"`
	Updated string      `json:"updated"`
	Scores  []highScore `json:"scores"`
}

// appData returns a game's high-score table as JSON: later versions hold higher
// scores, as a table only ever improves.
func appData(v *rand.Rand, game, player string, version int) []byte {
	n := between(v, 1, 10)
	scores := make([]highScore, n)
	for i := range scores {
		c := pick(v, cultures)
		scores[i] = highScore{
			Name:  c.given[v.IntN(len(c.given))],
			Score: (version+1)*1000 + v.IntN(100000*(version+1)),
			Level: between(v, 1, 30),
			Date:  stamp(version).AddDate(0, 0, -v.IntN(60)).Format(time.DateOnly),
		}
	}
	sort.Slice(scores, func(i, j int) bool { return scores[i].Score > scores[j].Score })
	for i := range scores {
		scores[i].Rank = i + 1
	}
	doc := highScores{Game: game, Format: 2, Player: player, Updated: stamp(version).Format(time.RFC3339), Scores: scores}
	// Marshalling plain structs of strings and ints cannot fail.
	b, _ := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n')
}
