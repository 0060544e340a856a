package gen

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
)

// jpegOfSize returns a decodable JPEG of exactly n bytes (n >= the small image's
// own size, about 1-2 KiB): a small seeded picture, padded with APP15 segments
// of random bytes, as camera files carry maker notes and thumbnails.
func jpegOfSize(r *rand.Rand, n int) []byte {
	const w, h = 48, 32
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c0 := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	c1 := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t := float64(x+y) / float64(w+h)
			noise := uint8(r.IntN(24))
			img.Set(x, y, color.RGBA{
				mix(c0.R, c1.R, t) ^ noise, mix(c0.G, c1.G, t) ^ noise, mix(c0.B, c1.B, t), 255,
			})
		}
	}
	var enc bytes.Buffer
	// Encoding an in-memory image into a bytes.Buffer cannot fail.
	_ = jpeg.Encode(&enc, img, &jpeg.Options{Quality: 80})
	base := enc.Bytes()
	if n <= len(base) {
		return base
	}
	pad := n - len(base)
	if pad < 4 { // too little room for a segment header: up to 3 bytes over
		pad = 4
	}
	out := make([]byte, 0, len(base)+pad)
	out = append(out, base[:2]...) // SOI
	for pad > 0 {
		// A segment is FF EF, a 2-byte length (which counts itself), then data.
		seg := min(pad, 4+65531)
		if rest := pad - seg; rest > 0 && rest < 4 {
			seg -= 4 // leave room for one more whole segment
		}
		out = append(out, 0xFF, 0xEF)
		out = binary.BigEndian.AppendUint16(out, uint16(seg-2))
		out = appendRandom(out, r, seg-4)
		pad -= seg
	}
	return append(out, base[2:]...)
}

func mix(a, b uint8, t float64) uint8 { return uint8(float64(a)*(1-t) + float64(b)*t) }

func appendRandom(out []byte, r *rand.Rand, n int) []byte {
	var buf [8]byte
	for n >= 8 {
		binary.LittleEndian.PutUint64(buf[:], r.Uint64())
		out = append(out, buf[:]...)
		n -= 8
	}
	for ; n > 0; n-- {
		out = append(out, byte(r.Uint32()))
	}
	return out
}
