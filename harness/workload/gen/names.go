package gen

// culture is a naming and addressing convention in one script, so generated contacts
// carry real non-ASCII names, addresses and phone numbers in several scripts.
type culture struct {
	given, family       []string // native script
	romGiven, romFamily []string // ASCII forms for e-mail addresses, parallel to given/family
	familyFirst         bool     // FN is "family given" (CJK, Vietnamese, Hungarian...)
	cities, streets     []string
	region              []string
	postal              string // '#' = digit
	country             string
	phones              []string // '#' = digit
}

var cultures = []culture{
	{ // German
		given: []string{"Jürgen", "Käthe", "Lukas", "Sophie", "Günther", "Anna"}, romGiven: []string{"juergen", "kaethe", "lukas", "sophie", "guenther", "anna"},
		family: []string{"Müller", "Schröder", "Weiß", "Becker", "Köhler"}, romFamily: []string{"mueller", "schroeder", "weiss", "becker", "koehler"},
		cities: []string{"Berlin", "München", "Köln", "Düsseldorf"}, streets: []string{"Hauptstraße", "Königsallee", "Schloßstraße", "Großer Weg"},
		region: []string{"Berlin", "Bayern", "Nordrhein-Westfalen"}, postal: "#####", country: "Deutschland",
		phones: []string{"+49 151 #######", "+49 30 ########", "+49 89 #######"},
	},
	{ // French
		given: []string{"Zoë", "Hélène", "François", "Léa", "Jérôme"}, romGiven: []string{"zoe", "helene", "francois", "lea", "jerome"},
		family: []string{"Lefèvre", "Dubois", "Moreau", "Girard", "Bérenger"}, romFamily: []string{"lefevre", "dubois", "moreau", "girard", "berenger"},
		cities: []string{"Paris", "Lyon", "Besançon", "Orléans"}, streets: []string{"rue de la Paix", "avenue des Champs-Élysées", "rue Saint-Honoré"},
		region: []string{"Île-de-France", "Auvergne-Rhône-Alpes"}, postal: "#####", country: "France",
		phones: []string{"+33 6 ## ## ## ##", "+33 1 ## ## ## ##"},
	},
	{ // Polish
		given: []string{"Łukasz", "Małgorzata", "Wojciech", "Zofia"}, romGiven: []string{"lukasz", "malgorzata", "wojciech", "zofia"},
		family: []string{"Wiśniewski", "Kowalczyk", "Żak", "Dąbrowska"}, romFamily: []string{"wisniewski", "kowalczyk", "zak", "dabrowska"},
		cities: []string{"Kraków", "Łódź", "Gdańsk", "Wrocław"}, streets: []string{"ulica Długa", "ulica Świętokrzyska", "aleja Róż"},
		region: []string{"małopolskie", "pomorskie"}, postal: "##-###", country: "Polska",
		phones: []string{"+48 ### ### ###"},
	},
	{ // Russian
		given: []string{"Иван", "Наталья", "Дмитрий", "Ольга"}, romGiven: []string{"ivan", "natalya", "dmitry", "olga"},
		family: []string{"Петров", "Смирнова", "Кузнецов", "Соколова"}, romFamily: []string{"petrov", "smirnova", "kuznetsov", "sokolova"},
		cities: []string{"Москва", "Санкт-Петербург", "Новосибирск"}, streets: []string{"улица Арбат", "Невский проспект", "улица Ленина"},
		region: []string{"Московская область", "Ленинградская область"}, postal: "######", country: "Россия",
		phones: []string{"+7 9## ###-##-##", "+7 495 ###-##-##"},
	},
	{ // Greek
		given: []string{"Γιώργος", "Ελένη", "Νίκος", "Μαρία"}, romGiven: []string{"giorgos", "eleni", "nikos", "maria"},
		family: []string{"Παπαδόπουλος", "Οικονόμου", "Γεωργίου"}, romFamily: []string{"papadopoulos", "oikonomou", "georgiou"},
		cities: []string{"Αθήνα", "Θεσσαλονίκη", "Πάτρα"}, streets: []string{"Οδός Ερμού", "Λεωφόρος Συγγρού"},
		region: []string{"Αττική", "Κεντρική Μακεδονία"}, postal: "### ##", country: "Ελλάδα",
		phones: []string{"+30 69# ### ####", "+30 21# ### ####"},
	},
	{ // Japanese
		given: []string{"太郎", "花子", "翔太", "さくら"}, romGiven: []string{"taro", "hanako", "shota", "sakura"},
		family: []string{"山田", "佐藤", "鈴木", "高橋"}, romFamily: []string{"yamada", "sato", "suzuki", "takahashi"},
		familyFirst: true,
		cities:      []string{"東京都", "大阪市", "札幌市"}, streets: []string{"千代田区丸の内1-1", "中央区銀座4-6", "北区梅田3-1"},
		region: []string{"東京都", "大阪府", "北海道"}, postal: "###-####", country: "日本",
		phones: []string{"+81 90-####-####", "+81 3-####-####"},
	},
	{ // Chinese
		given: []string{"伟", "芳", "娜", "强", "静"}, romGiven: []string{"wei", "fang", "na", "qiang", "jing"},
		family: []string{"王", "李", "张", "刘", "陈"}, romFamily: []string{"wang", "li", "zhang", "liu", "chen"},
		familyFirst: true,
		cities:      []string{"北京市", "上海市", "深圳市"}, streets: []string{"朝阳区建国路88号", "浦东新区世纪大道100号"},
		region: []string{"北京", "上海", "广东省"}, postal: "######", country: "中国",
		phones: []string{"+86 138 #### ####", "+86 10 #### ####"},
	},
	{ // Korean
		given: []string{"민준", "서연", "지호", "하은"}, romGiven: []string{"minjun", "seoyeon", "jiho", "haeun"},
		family: []string{"김", "이", "박", "최"}, romFamily: []string{"kim", "lee", "park", "choi"},
		familyFirst: true,
		cities:      []string{"서울특별시", "부산광역시"}, streets: []string{"강남구 테헤란로 152", "종로구 세종대로 209"},
		region: []string{"서울", "부산"}, postal: "#####", country: "대한민국",
		phones: []string{"+82 10-####-####"},
	},
	{ // Arabic
		given: []string{"محمد", "فاطمة", "أحمد", "ليلى"}, romGiven: []string{"mohammed", "fatima", "ahmed", "layla"},
		family: []string{"العلي", "الحسن", "منصور"}, romFamily: []string{"alali", "alhassan", "mansour"},
		cities: []string{"القاهرة", "دبي", "الرياض"}, streets: []string{"شارع التحرير", "شارع الملك فهد"},
		region: []string{"القاهرة", "دبي"}, postal: "#####", country: "مصر",
		phones: []string{"+20 10 #### ####", "+971 50 ### ####"},
	},
	{ // Hebrew
		given: []string{"נועה", "דוד", "יעל", "אריאל"}, romGiven: []string{"noa", "david", "yael", "ariel"},
		family: []string{"כהן", "לוי", "מזרחי"}, romFamily: []string{"cohen", "levi", "mizrahi"},
		cities: []string{"תל אביב", "ירושלים", "חיפה"}, streets: []string{"רחוב הרצל", "שדרות רוטשילד"},
		region: []string{"מחוז תל אביב", "מחוז ירושלים"}, postal: "#######", country: "ישראל",
		phones: []string{"+972 5#-###-####"},
	},
	{ // Hindi
		given: []string{"प्रिया", "अर्जुन", "अनन्या", "राहुल"}, romGiven: []string{"priya", "arjun", "ananya", "rahul"},
		family: []string{"शर्मा", "पटेल", "गुप्ता", "सिंह"}, romFamily: []string{"sharma", "patel", "gupta", "singh"},
		cities: []string{"मुंबई", "नई दिल्ली", "बेंगलुरु"}, streets: []string{"महात्मा गांधी मार्ग", "नेहरू प्लेस"},
		region: []string{"महाराष्ट्र", "दिल्ली", "कर्नाटक"}, postal: "######", country: "भारत",
		phones: []string{"+91 98### #####"},
	},
	{ // Thai
		given: []string{"สมชาย", "สุดา", "วิชัย"}, romGiven: []string{"somchai", "suda", "wichai"},
		family: []string{"ใจดี", "ศรีสุข", "วงศ์ไทย"}, romFamily: []string{"jaidee", "srisuk", "wongthai"},
		cities: []string{"กรุงเทพมหานคร", "เชียงใหม่"}, streets: []string{"ถนนสุขุมวิท", "ถนนสีลม"},
		region: []string{"กรุงเทพมหานคร", "เชียงใหม่"}, postal: "#####", country: "ประเทศไทย",
		phones: []string{"+66 8# ### ####"},
	},
	{ // Spanish
		given: []string{"José", "María José", "Íñigo", "Begoña"}, romGiven: []string{"jose", "mariajose", "inigo", "begona"},
		family: []string{"García", "Muñoz", "Peña", "Ibáñez"}, romFamily: []string{"garcia", "munoz", "pena", "ibanez"},
		cities: []string{"Madrid", "Sevilla", "A Coruña", "Cádiz"}, streets: []string{"Calle de Alcalá", "Avenida de la Constitución"},
		region: []string{"Madrid", "Andalucía", "Galicia"}, postal: "#####", country: "España",
		phones: []string{"+34 6## ### ###", "+34 91 ### ## ##"},
	},
	{ // Vietnamese
		given: []string{"Văn An", "Thị Hương", "Minh Tuấn"}, romGiven: []string{"vanan", "thihuong", "minhtuan"},
		family: []string{"Nguyễn", "Trần", "Lê", "Phạm"}, romFamily: []string{"nguyen", "tran", "le", "pham"},
		familyFirst: true,
		cities:      []string{"Hà Nội", "Thành phố Hồ Chí Minh", "Đà Nẵng"}, streets: []string{"Phố Tràng Tiền", "Đường Lê Lợi"},
		region: []string{"Hà Nội", "Hồ Chí Minh"}, postal: "######", country: "Việt Nam",
		phones: []string{"+84 9# ### ## ##"},
	},
	{ // Turkish
		given: []string{"Çağla", "Ömer", "Şule", "İbrahim"}, romGiven: []string{"cagla", "omer", "sule", "ibrahim"},
		family: []string{"Öztürk", "Yılmaz", "Şahin", "Çelik"}, romFamily: []string{"ozturk", "yilmaz", "sahin", "celik"},
		cities: []string{"İstanbul", "İzmir", "Ankara"}, streets: []string{"İstiklal Caddesi", "Bağdat Caddesi"},
		region: []string{"İstanbul", "İzmir"}, postal: "#####", country: "Türkiye",
		phones: []string{"+90 5## ### ## ##"},
	},
	{ // English
		given: []string{"Olivia", "James", "Amelia", "Noah", "Siobhán"}, romGiven: []string{"olivia", "james", "amelia", "noah", "siobhan"},
		family: []string{"Smith", "O'Connor", "Johnson", "Williams"}, romFamily: []string{"smith", "oconnor", "johnson", "williams"},
		cities: []string{"Seattle", "New York", "Springfield", "Palo Alto"}, streets: []string{"5th Avenue", "Main Street", "University Ave., Suite 100"},
		region: []string{"WA", "NY", "CA"}, postal: "#####", country: "United States",
		phones: []string{"+1 (###) ###-####", "+1 206 ### ####"},
	},
}

var emailDomains = []string{"example.com", "example.org", "example.net", "mail.example", "corp.example"}

var orgs = []string{"Danger, Inc.", "T-Mobile USA", "Müller & Söhne GmbH", "株式会社サンプル", "ООО «Ромашка»",
	"Sidekick Fan Club", "Acme Corp.", "Société Générale d'Exemple", "삼성 예시", "Café Über; Bar"}

var titles = []string{"Engineer", "Ingénieure", "Менеджер", "部長", "Directora", "Product Manager", "Arzt", "Λογιστής"}

// categories are the values of CATEGORIES; some hold a comma, which a list
// value escapes ("Work\, Travel" is one category).
var categories = []string{"Family", "Work", "Friends", "Familie", "Travail", "Друзья", "友人", "VIP",
	"Work, Travel", "Friends, Family", "École, parents"}

var nicknames = []string{"Bob", "Lulu", "Sasha", "Kiki", "Nano", "Zé", "Mimi", "Joe, Jr."}

// honorifics are N's prefix and suffix values; some hold a comma.
var prefixes = []string{"Dr.", "Prof.", "Mme", "Herr"}
var suffixes = []string{"Jr.", "M.D.", "Ph.D., retired", "III"}

var sentences = []string{
	"Remember to back up the phone before the trip.",
	"Einkaufsliste: Äpfel, Brötchen, Käse und Milch.",
	"Ne pas oublier : rendez-vous chez le médecin à 14 h.",
	"Купить подарок на день рождения мамы.",
	"明日の会議の資料を準備する。",
	"周末去公园散步，记得带相机。",
	"내일 오전에 은행에 가야 한다.",
	"لا تنس الاتصال بالعائلة مساء الجمعة.",
	"לקנות חלב ולחם בדרך הביתה.",
	"शाम को दादी को फ़ोन करना है।",
	"พรุ่งนี้ต้องไปรับพัสดุที่ไปรษณีย์",
	"Llamar a Íñigo para confirmar la reserva del sábado.",
	"Γιορτή της Ελένης την Κυριακή, να πάρω λουλούδια.",
	"Toplantı notları: bütçe, takvim ve işe alım.",
	"Gọi cho bà ngoại vào cuối tuần.",
	"Wi-Fi password for the cabin: ask Zoë 🙂",
	"🎉 Party at 8; bring snacks 🍕, drinks and the speaker.",
	`Backup path: C:\Users\sidekick\photos; size 3,5 MB.`,
	"Meeting notes — budget, timeline; hiring (2 people, maybe 3).",
	"The quick brown fox jumps over the lazy dog.",
}

var eventTitles = []string{"Team meeting", "Zahnarzttermin", "Déjeuner avec Hélène", "День рождения Ольги", "歯医者",
	"家长会", "축구 경기", "اجتماع العمل", "Cumpleaños de Begoña", "Flight LH 400 FRA→JFK", "Yoga", "Review: Q4 roadmap",
	"Sprint planning; backlog grooming", "Kaffee mit Jürgen", "Концерт", "Ανάγνωση βιβλίου"}

var locations = []string{"Conference room 2", "Café Central, Wien", "Zoom", "東京駅", "Кафе «Пушкинъ»",
	"Sala 3, Edificio B", "Home", "Room 101; Building 4", "Starbucks, 5th Ave."}

var todoTitles = []string{"Renew passport", "Steuererklärung abgeben", "Acheter du pain", "Позвонить в банк",
	"牛乳を買う", "交电费", "세탁소에서 옷 찾기", "Pay rent", "Comprar regalo para María José", "Back up contacts!",
	"Fix the bike, brakes & chain", "Réserver l'hôtel à Besançon"}

var noteTitles = []string{"Journal", "Tagebuch", "Idées", "Заметки", "メモ", "笔记", "Recipes", "Travel log",
	"Meeting minutes", "Diario"}

var games = []string{"tetris", "bejeweled", "snake", "solitaire", "bubble-breaker", "sudoku", "minesweeper", "pac-man"}
