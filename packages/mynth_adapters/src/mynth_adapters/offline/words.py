"""The offline text generator's fixed vocabulary: small word lists it assembles personas from.

Sentences use `{name}` as their subject and only the `{them}`/`{their}` pronoun forms, so they
read correctly for every gender without conjugating verbs.
"""

from __future__ import annotations

from typing import Final

FEMALE_WORDS: Final = frozenset(
    {
        "woman", "women", "girl", "she", "her", "hers", "herself", "female", "lady", "queen",
        "mother", "daughter", "sister", "wife", "princess", "heroine", "actress", "witch",
        "grandmother", "aunt", "niece", "empress", "duchess", "girlfriend", "waitress",
    }
)  # fmt: skip
MALE_WORDS: Final = frozenset(
    {
        "man", "men", "boy", "he", "him", "his", "himself", "male", "guy", "king", "father",
        "son", "brother", "husband", "prince", "gentleman", "hero", "actor", "wizard",
        "grandfather", "uncle", "nephew", "emperor", "duke", "boyfriend", "waiter",
    }
)  # fmt: skip
HOBBY_WORDS: Final = frozenset(
    {
        "hobby", "hobbies", "likes", "loves", "enjoys", "favourite", "favorite", "favourites",
        "favorites", "fan", "collects", "collector", "pastime", "passion", "passionate",
    }
)  # fmt: skip
OLD_WORDS: Final = frozenset(
    {"old", "elderly", "aged", "ancient", "retired", "grandmother", "grandfather", "veteran"}
)
YOUNG_WORDS: Final = frozenset({"young", "youthful", "student", "rookie", "apprentice"})
REQUEST_WORDS: Final = frozenset(
    {
        "create", "make", "generate", "write", "design", "give", "build", "want", "need",
        "please", "persona", "character", "someone", "somebody", "person", "named", "called",
        "about", "who", "whose", "with", "that", "this", "their", "they", "them", "the", "and",
        "for", "from", "into", "has", "have", "had", "was", "were", "are", "is", "very", "some",
        "but", "not", "all", "any", "can", "could", "would", "should", "will", "just", "like",
        "also", "than", "then", "when", "where", "which", "while", "what", "her", "his", "she",
        "him", "its", "our", "your", "you", "out", "over", "under", "after", "before", "been",
        "being", "does", "did", "doing", "one", "two", "three", "years", "year", "old", "age",
        "aged", "lot", "lots", "much", "many", "more", "most", "really", "quite", "kind", "sort",
        "year-old", "years-old", "yrs-old",
    }
)  # fmt: skip
OCCUPATIONS: Final = (
    "pilot", "detective", "knight", "wizard", "witch", "doctor", "nurse", "teacher", "chef",
    "sailor", "pirate", "soldier", "thief", "merchant", "scientist", "engineer", "artist",
    "musician", "writer", "farmer", "hunter", "healer", "mercenary", "spy", "librarian",
    "baker", "blacksmith", "bard", "priest", "priestess", "assassin", "courier", "mechanic",
    "journalist", "lawyer", "smuggler", "captain", "archaeologist", "astronaut", "photographer",
    "dancer", "singer", "painter", "gardener", "tailor", "jeweller", "jeweler", "alchemist",
    "ranger", "guard", "bodyguard", "programmer", "hacker", "barista", "bartender", "monk",
    "nun", "cartographer", "astronomer", "diplomat", "surgeon", "paramedic", "firefighter",
    "translator", "interpreter", "clockmaker", "archivist", "fisherman", "fisher", "miner",
    "carpenter", "potter", "weaver", "shepherd", "innkeeper", "pianist", "violinist", "poet",
    "novelist", "professor", "student", "sheriff", "gladiator", "samurai", "ninja",
    "necromancer", "sorcerer", "sorceress", "druid", "paladin", "cleric", "rogue",
    "inventor", "botanist", "veterinarian", "accountant", "architect", "florist", "tattooist",
)  # fmt: skip
DEFAULT_OCCUPATIONS: Final = (
    "ferry pilot", "night-shift nurse", "archivist at a provincial museum", "street-food cook",
    "salvage diver", "clockmaker", "mountain guide", "radio host of a late-night call-in show",
    "court translator", "bookbinder", "stage-set painter", "beekeeper", "locksmith",
    "cartographer for a survey office", "lighthouse mechanic", "wedding photographer",
)  # fmt: skip

FEMALE_NAMES: Final = (
    "Amara", "Ines", "Mei", "Saoirse", "Leilani", "Yara", "Noor", "Katya", "Freya", "Ximena",
    "Aiko", "Zanele", "Olivia", "Marisol", "Hana", "Priya",
)  # fmt: skip
MALE_NAMES: Final = (
    "Tobias", "Kenji", "Mateo", "Oluwaseun", "Anders", "Rafael", "Idris", "Luca", "Emeka",
    "Dmitri", "Arjun", "Tane", "Callum", "Hamza", "Joaquin", "Wen",
)  # fmt: skip
NEUTRAL_NAMES: Final = (
    "Robin", "Sasha", "Kai", "Rowan", "Ash", "Noa", "Quinn", "Sam", "Eden", "Ari", "River",
    "Jules",
)  # fmt: skip
SURNAMES: Final = (
    "Okafor", "Lindqvist", "Moreau", "Tanaka", "Castellanos", "Haddad", "Novak", "O'Connell",
    "Mbeki", "Kowalski", "Ferreira", "Nakamura", "Vasquez", "Adeyemi", "Petrov", "Halloran",
    "Sato", "Quispe", "Abernathy", "Karimi",
)  # fmt: skip

BUILDS: Final = (
    "a tall, rangy build", "a compact, sturdy build", "a wiry frame", "broad shoulders",
    "a slight, quick-moving frame", "a soft, solid build",
)  # fmt: skip
FACES: Final = (
    "a long face with a crooked nose", "high cheekbones and a sharp jaw",
    "a round face quick to crease into a grin", "a weathered, sun-browned face",
    "a narrow face with heavy brows", "freckles across the nose and cheeks",
)  # fmt: skip
EYES: Final = (
    "storm-grey",
    "dark brown",
    "hazel",
    "pale green",
    "amber",
    "deep-set black",
    "blue-grey",
)
HAIR: Final = (
    "close-cropped black hair", "a braid of copper hair down the back", "a shaved head",
    "silver-streaked curls tied up with a pencil", "shoulder-length ash-blond hair",
    "thick dark waves kept out of the eyes with a cloth band", "a short, untidy auburn mop",
)  # fmt: skip
CLOTHING: Final = (
    "a patched oilskin coat over a knitted jumper", "a tailored charcoal suit worn without a tie",
    "layered linen in sand and rust colours", "a leather jacket with a torn lining",
    "a faded work shirt with rolled sleeves and many-pocketed trousers",
    "a long wool cloak fastened with a tarnished brooch",
)  # fmt: skip
MAKEUP: Final = (
    "No makeup, only a smudge of ink on one cheekbone",
    "A sharp line of kohl around the eyes",
    "A dark berry lipstick, always slightly worn at the centre",
    "Bare skin and a sunburn that never quite fades",
)
MARKS: Final = (
    "a small tattoo of a swallow behind the left ear", "a chipped front tooth",
    "burn scars across the back of one hand", "a silver ring worn on a chain at the throat",
    "a birthmark shaped like a comma above one eyebrow", "ink-stained fingertips",
)  # fmt: skip

TRAITS: Final = (
    ("patient", "quick to anger when someone weaker is mocked"),
    ("generous", "secretly keeps score of every favour"),
    ("cheerful", "prone to long, silent dark moods"),
    ("fearless", "terrified of being forgotten"),
    ("meticulous", "reckless the moment a promise is at stake"),
    ("sceptical", "privately superstitious"),
    ("warm", "guarded about anything to do with family"),
)
SPEECH: Final = (
    "speaks in short, clipped sentences and never says goodbye",
    "answers questions with questions and laughs before the punchline",
    "uses sailing words for everything and drops them when lying",
    "talks fast, in tangents, and apologises for it without slowing down",
    "speaks softly and makes people lean in to listen",
)
SETTINGS: Final = (
    "a harbour town on the Baltic coast", "a high-desert mining settlement",
    "a crowded apartment block in Lagos", "a fishing village in Hokkaido",
    "a walled city of canals and bridges", "a frontier colony on a cold moon",
    "a vineyard valley in the Andes", "a market quarter of old Istanbul",
)  # fmt: skip
UPBRINGINGS: Final = (
    "as the eldest of five, raised mostly by a grandmother",
    "in a house full of books and not much money",
    "moving every year with a restless parent",
    "in a strict household that prized duty over happiness",
)
TURNS: Final = (
    "A fire took the family workshop, and with it the future everyone had planned for {them}",
    "At nineteen {name} walked away from an arranged life and has never fully explained why",
    "A mentor's betrayal taught {them} to trust slowly and check every ledger twice",
    "A shipwreck survived against the odds left {them} convinced of owing the sea a debt",
)
SECRETS: Final = (
    "{name} keeps a letter that was never delivered and would change a family's fortunes",
    "{name} once took the blame for a crime a friend committed, and the friend never knew",
    "{name} still sends money to someone everyone believes is dead",
    "{name} can no longer read well in poor light and hides it from everyone",
)
HOBBIES: Final = (
    "restoring old radios", "night swimming", "pressing wild flowers",
    "collecting postcards from places never visited", "playing chess by post",
    "baking bread at three in the morning", "birdwatching from rooftops",
)  # fmt: skip
EXTRAS: Final = (
    ("quirks", "Counts stairs under the breath and knocks twice on every door frame."),
    ("fears", "Deep still water, and the moment a crowd goes suddenly quiet."),
    ("goals", "To buy back the family's old house and fill it with people again."),
    ("catchphrases", '"Well, that\'s a problem for the morning."'),
    ("skills", "Knots, first aid and reading people's hands for calluses and lies."),
)
SENSORY: Final = (
    "Up close there is the smell of {scent}, and {their} voice carries a faint rasp",
    (
        "The light catches small things first: worn seams, a thumb-polished button, "
        "the warmth of {their} hands"
    ),
    (
        "A trace of {scent} clings to {them}, along with a habit of touching "
        "the nearest wall as if to check it is still there"
    ),
)
SCENTS: Final = (
    "woodsmoke",
    "sea salt and tar",
    "cardamom",
    "rain on hot stone",
    "machine oil",
    "old paper",
)
LEAD_INS: Final = (
    "Put simply:",
    "In other words:",
    "Said plainly:",
    "Told another way:",
)
