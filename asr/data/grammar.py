"""Request grammar of the voice-assistant corpus.

A request is drawn from templates across seven domains (communication, smart
home, music, timers/alarms, weather, shopping, general). Templates are strings
with slots in braces; ``{contact}`` and ``{device}`` slots are filled from the
simulated user's own lists, other slots from shared catalogs (cities, songs,
shopping items) and number generators. Each template is one phrasing of an
intent; intents have many phrasings.

:func:`sample_request` returns the text to speak (display spelling, numbers as
words) and entity spans over the normalized transcript's words.
"""

import dataclasses
import re

import numpy as np

from asr.data import text as text_lib
from asr.data.names import DEVICE_NOUNS

# (domain, intent, weight, templates). ``{contact}`` / ``{device}`` mark entity
# slots; ``{pronoun}`` is his/her/their.
TEMPLATES: tuple[tuple[str, str, float, tuple[str, ...]], ...] = (
    ("communication", "call", 5.0, (
        "call {contact}", "please call {contact}", "call {contact} please",
        "can you call {contact}", "could you call {contact} for me",
        "phone {contact}", "ring {contact}", "dial {contact}",
        "give {contact} a call", "call {contact} on {pronoun} mobile",
        "call {contact} at home", "call {contact} on speaker",
        "i want to call {contact}", "get {contact} on the phone",
        "video call {contact}", "start a video call with {contact}",
        "drop in on {contact}", "call {contact} back",
        "return the call from {contact}", "make a call to {contact}")),
    ("communication", "message", 4.0, (
        "text {contact} {message}", "send a message to {contact}",
        "send a text to {contact} saying {message}",
        "message {contact} {message}", "tell {contact} {message}",
        "send {contact} a message", "text {contact}",
        "send {contact} a text that says {message}",
        "reply to {contact} {message}", "write to {contact} {message}",
        "read my messages from {contact}", "do i have any messages from {contact}",
        "read the last text from {contact}", "let {contact} know {message}")),
    ("communication", "contact_info", 1.0, (
        "when did {contact} last call", "what is the number for {contact}",
        "show me the address of {contact}", "is {contact} available",
        "did {contact} call me today", "when is the birthday of {contact}")),
    ("smart_home", "power", 5.0, (
        "turn on the {device}", "turn off the {device}", "turn the {device} on",
        "turn the {device} off", "switch on the {device}",
        "switch off the {device}", "switch the {device} off",
        "please turn on the {device}", "can you turn off the {device}",
        "power on the {device}", "power off the {device}",
        "shut off the {device}", "start the {device}", "stop the {device}",
        "turn {device} on", "turn {device} off", "{device} on", "{device} off",
        "could you switch the {device} on", "kill the {device}")),
    ("smart_home", "level", 3.0, (
        "set the {device} to {percent} percent",
        "dim the {device}", "dim the {device} to {percent} percent",
        "brighten the {device}", "make the {device} brighter",
        "make the {device} a little dimmer", "turn the {device} up",
        "turn the {device} down", "set {device} to {percent} percent",
        "put the {device} at {percent} percent",
        "change the {device} to {percent} percent",
        "lower the {device} to {percent} percent",
        "raise the {device} to {percent} percent",
        "set the {device} to {degrees} degrees",
        "set the {device} brightness to {percent} percent")),
    ("smart_home", "query", 0.8, (
        "is the {device} on", "is the {device} still on",
        "did i leave the {device} on", "what is the {device} set to",
        "turn off all the lights", "turn on all the lights",
        "lock the front door", "is the back door locked",
        "set the thermostat to {degrees} degrees",
        "what's the temperature inside")),
    ("music", "play", 2.5, (
        "play {song} by {artist}", "play {song}", "play the song {song}",
        "play some {artist}", "play music by {artist}", "play {artist}",
        "i want to hear {song}", "play my {genre} playlist",
        "play some {genre} music", "put on some {genre}",
        "shuffle songs by {artist}", "play the latest album by {artist}",
        "play {song} on repeat", "add {song} to my playlist",
        "play {genre} music in the {room}")),
    ("music", "control", 1.2, (
        "pause the music", "stop the music", "next song", "skip this song",
        "play the previous song", "turn the volume up", "turn it down",
        "volume {small_number}", "louder please", "who sings this song",
        "what song is this", "resume the music", "repeat this song",
        "shuffle my music", "turn up the volume a little")),
    ("timers", "timer", 2.0, (
        "set a timer for {minutes} minutes", "set a {minutes} minute timer",
        "start a timer for {minutes} minutes",
        "set a timer for {hours} hours", "timer for {minutes} minutes",
        "how much time is left on my timer", "cancel my timer",
        "cancel the {minutes} minute timer", "pause the timer",
        "set a {food} timer for {minutes} minutes",
        "add {minutes} minutes to my timer")),
    ("timers", "alarm", 2.0, (
        "wake me up at {time}", "set an alarm for {time}",
        "set an alarm for {time} tomorrow", "set my alarm for {time}",
        "set an alarm for {time} on {weekday}",
        "cancel my alarm for {time}", "what time is my alarm",
        "snooze", "stop the alarm", "turn off my alarm",
        "remind me to {task} at {time}", "remind me to {task} in {minutes} minutes",
        "remind me at {time} to {task}")),
    ("weather", "weather", 2.0, (
        "what's the weather in {city}", "what's the weather like in {city}",
        "will it rain in {city} tomorrow", "what's the temperature in {city}",
        "is it going to snow in {city} this weekend",
        "how cold is it in {city}", "do i need an umbrella in {city} today",
        "what's the forecast for {city}", "how's the weather today",
        "what's the weather going to be like tomorrow",
        "will it be sunny on {weekday}", "is it windy outside",
        "how hot will it be today", "what's the high today in {city}")),
    ("shopping", "list", 2.0, (
        "add {item} to my shopping list", "put {item} on my shopping list",
        "add {item} and {item} to my shopping list",
        "remove {item} from my shopping list",
        "take {item} off my shopping list", "what's on my shopping list",
        "clear my shopping list", "do i have {item} on my list",
        "add {item} to the grocery list", "i need {item}",
        "order more {item}", "add {small_number} {item} to my cart",
        "reorder {item}", "where is my order")),
    ("general", "general", 2.0, (
        "what time is it", "tell me a joke", "what's the date today",
        "good morning", "good night", "what's on my calendar today",
        "read the news", "what's in the news", "how do you spell {spell_word}",
        "what is {small_number} times {small_number}",
        "what is {number} plus {number}", "thank you", "stop", "never mind",
        "what can you do", "flip a coin", "roll a die", "how are you today",
        "what day is it", "turn on do not disturb", "find my phone",
        "how far is it to {city}", "translate hello into {language}",
        "what's my next appointment", "play the news",
        "tell me something interesting", "how many days until {holiday}",
        "when is sunset today", "set the volume to {small_number}")),
)

MESSAGES = (
    "i'm running late", "dinner is ready", "i'm on my way",
    "see you at {time}", "call me when you can", "happy birthday",
    "don't forget the keys", "i'll be home soon", "can you pick up the kids",
    "the meeting is cancelled", "good luck today", "i love you",
    "let's meet at the park", "are you coming tonight", "thanks for everything",
    "i'm at the store", "the package arrived", "running ten minutes late",
    "see you tomorrow", "where are you")
CITIES = (
    "london", "paris", "berlin", "madrid", "rome", "vienna", "prague",
    "dublin", "lisbon", "amsterdam", "brussels", "oslo", "stockholm",
    "helsinki", "copenhagen", "warsaw", "budapest", "athens", "istanbul",
    "moscow", "cairo", "nairobi", "lagos", "johannesburg", "cape town",
    "dubai", "mumbai", "delhi", "bangalore", "singapore", "bangkok",
    "hong kong", "shanghai", "beijing", "tokyo", "osaka", "seoul", "sydney",
    "melbourne", "auckland", "toronto", "vancouver", "montreal", "new york",
    "boston", "chicago", "seattle", "san francisco", "los angeles",
    "san diego", "denver", "dallas", "houston", "austin", "miami", "atlanta",
    "phoenix", "portland", "detroit", "philadelphia", "washington",
    "mexico city", "lima", "bogota", "santiago", "buenos aires",
    "rio de janeiro", "sao paulo", "havana", "honolulu", "anchorage",
    "edinburgh", "glasgow", "manchester", "liverpool", "barcelona",
    "munich", "hamburg", "zurich", "geneva", "milan", "venice", "naples",
    "florence", "seville", "valencia", "marseille", "lyon", "nice")
ITEMS = (
    "milk", "eggs", "bread", "butter", "cheese", "apples", "bananas",
    "oranges", "tomatoes", "potatoes", "onions", "garlic", "rice", "pasta",
    "flour", "sugar", "salt", "pepper", "coffee", "tea", "orange juice",
    "yogurt", "chicken", "beef", "salmon", "tuna", "carrots", "spinach",
    "lettuce", "cucumbers", "strawberries", "blueberries", "grapes",
    "lemons", "avocados", "cereal", "oatmeal", "peanut butter", "jam",
    "honey", "olive oil", "paper towels", "toilet paper", "dish soap",
    "laundry detergent", "shampoo", "toothpaste", "batteries", "light bulbs",
    "trash bags", "dog food", "cat food", "diapers", "ice cream", "cookies",
    "chips", "crackers", "almonds", "water", "sparkling water", "beer",
    "wine", "soda", "broccoli", "mushrooms", "bacon", "sausages", "tofu",
    "beans", "soup", "ketchup", "mustard", "mayonnaise", "napkins",
    "aluminum foil", "sponges", "hand soap", "vitamins", "granola bars")
GENRES = ("jazz", "rock", "classical", "pop", "country", "hip hop", "blues",
          "reggae", "folk", "dance", "electronic", "soul", "ambient", "metal",
          "workout", "relaxing", "party", "chill", "study", "dinner")
ROOMS = ("kitchen", "bedroom", "living room", "bathroom", "office",
         "dining room", "kids room", "guest room", "hall", "backyard")
FOODS = ("pasta", "pizza", "egg", "rice", "cookie", "bread", "tea", "oven")
TASKS = (
    "call the dentist", "take out the trash", "water the plants",
    "feed the dog", "pay the rent", "buy flowers", "check the oven",
    "take my medicine", "pick up the dry cleaning", "walk the dog",
    "book a table", "charge my phone", "lock the door", "stretch",
    "drink some water", "send the report", "move the car", "start dinner")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday",
            "saturday", "sunday")
LANGUAGES = ("spanish", "french", "german", "italian", "japanese",
             "portuguese", "dutch", "swedish", "polish", "greek")
HOLIDAYS = ("christmas", "new year's eve", "halloween", "thanksgiving",
            "easter", "valentine's day", "my birthday", "the weekend")
SPELL_WORDS = ("necessary", "rhythm", "separate", "definitely", "restaurant",
               "beautiful", "calendar", "library", "february", "wednesday",
               "colonel", "queue", "receipt", "tomorrow", "occasionally")

# A fixed music catalog shared by every split (songs and artists are common
# content, not personal context): built from word lists with a fixed seed.
_ARTIST_ADJ = ("midnight", "silver", "golden", "electric", "velvet", "broken",
               "crystal", "neon", "wild", "quiet", "burning", "lonely",
               "northern", "paper", "rolling", "frozen", "little", "black",
               "blue", "red")
_ARTIST_NOUN = ("owls", "rivers", "hearts", "wolves", "kings", "echoes",
                "shadows", "horses", "mountains", "sparrows", "tigers",
                "dreamers", "saints", "strangers", "lights", "roses",
                "pilots", "giants", "ghosts", "brothers")
_SONG_WORDS = (("dancing in the", "running through the", "waiting for the",
                "lost in the", "under the", "over the", "back to the",
                "chasing the", "lights of the", "home in the"),
               ("rain", "moonlight", "summer", "city", "river", "storm",
                "morning", "ocean", "fire", "night", "sunset", "snow",
                "dark", "stars", "wind", "valley"))


def _music_catalog():
  rng = np.random.default_rng(12345)
  artists = sorted({f"the {a} {n}" for a, n in zip(
      rng.choice(_ARTIST_ADJ, 80), rng.choice(_ARTIST_NOUN, 80))})
  songs = sorted({f"{p} {w}" for p, w in zip(
      rng.choice(_SONG_WORDS[0], 120), rng.choice(_SONG_WORDS[1], 120))})
  return tuple(artists), tuple(songs)


ARTISTS, SONGS = _music_catalog()

_SLOT_RE = re.compile(r"\{(\w+)\}")
ENTITY_SLOTS = ("contact", "device")


def _time_words(rng: np.random.Generator) -> str:
  """A clock time as spoken ("seven forty five pm", "noon")."""
  nw = text_lib.number_to_words
  hour = nw(int(rng.integers(1, 13)))
  kind = rng.integers(0, 5)
  if kind == 0:
    t = f"{hour} o'clock"
  elif kind == 1:
    t = f"{hour} thirty"
  elif kind == 2:
    t = f"{hour} {nw(int(rng.choice([15, 45, 10, 20, 40, 50])))}"
  elif kind == 3:
    t = f"{hour} oh five"
  else:
    return "noon" if rng.random() < 0.5 else "midnight"
  if rng.random() < 0.6:
    t += " " + str(rng.choice(["am", "pm", "in the morning", "in the evening"]))
  return t


def vocabulary() -> frozenset[str]:
  """Every word the grammar can produce outside the contact/device slots."""
  pieces = []
  for _, _, _, templates in TEMPLATES:
    pieces.extend(templates)
  for seq in (MESSAGES, CITIES, DEVICE_NOUNS, ITEMS, GENRES, ROOMS, FOODS, TASKS, WEEKDAYS,
              LANGUAGES, HOLIDAYS, SPELL_WORDS, ARTISTS, SONGS):
    pieces.extend(seq)
  pieces.extend(["his her their am pm in the morning evening noon midnight "
                 "o'clock oh thirty"])
  pieces.extend(text_lib.number_to_words(n) for n in range(0, 1000))
  out = set()
  for p in pieces:
    out.update(text_lib.normalize_transcript(_SLOT_RE.sub(" ", p)).split())
  return frozenset(out)


@dataclasses.dataclass
class Request:
  """A sampled request.

  Attributes:
    domain, intent: the template's labels.
    tts_text: what the TTS engine reads (display spellings, numbers as words).
    text: the normalized transcript.
    entities: [(start_word, end_word_exclusive, kind, phrase)] over ``text``'s
      words, for the contact and device slots.
  """
  domain: str
  intent: str
  tts_text: str
  text: str
  entities: list[tuple[int, int, str, str]]


_DOMAIN_WEIGHTS = np.array([w for _, _, w, _ in TEMPLATES], np.float64)
_DOMAIN_WEIGHTS /= _DOMAIN_WEIGHTS.sum()


def sample_request(rng: np.random.Generator, contacts: list[tuple[str, str]],
                   devices: list[tuple[str, str]]) -> Request:
  """Samples one request for a user.

  Args:
    rng: the example's generator.
    contacts: the user's contacts as (normalized, display) pairs.
    devices: the user's devices as (normalized, display) pairs.
  """
  domain, intent, _, templates = TEMPLATES[rng.choice(len(TEMPLATES), p=_DOMAIN_WEIGHTS)]
  template = str(rng.choice(templates))
  # Messages may themselves contain slots ("see you at {time}").
  if "{message}" in template:
    template = template.replace("{message}", str(rng.choice(MESSAGES)), 1)
  pronoun = str(rng.choice(["his", "her", "their"]))
  parts: list[tuple[str, str | None, str | None]] = []  # (tts text, kind, norm)
  pos = 0
  for m in _SLOT_RE.finditer(template):
    if m.start() > pos:
      parts.append((template[pos:m.start()], None, None))
    slot = m.group(1)
    if slot == "contact":
      norm, display = contacts[rng.integers(len(contacts))]
      parts.append((display, "contact", norm))
    elif slot == "device":
      norm, display = devices[rng.integers(len(devices))]
      # "turn on the Zoë's fan" -> "turn on Zoë's fan".
      if "'s " in norm and parts and parts[-1][1] is None and parts[-1][0].endswith("the "):
        parts[-1] = (parts[-1][0][:-4], None, None)
      parts.append((display, "device", norm))
    else:
      parts.append((_fill(slot, rng, pronoun), None, None))
    pos = m.end()
  if pos < len(template):
    parts.append((template[pos:], None, None))

  words: list[str] = []
  entities = []
  tts = []
  for piece, kind, norm in parts:
    tts.append(piece)
    w = text_lib.normalize_transcript(piece).split()
    if kind is not None:
      entities.append((len(words), len(words) + len(w), kind, norm))
    words.extend(w)
  tts_text = "".join(tts)
  text = " ".join(words)
  assert text == text_lib.normalize_transcript(tts_text), (text, tts_text)
  return Request(domain, intent, tts_text, text, entities)


def _fill(slot: str, rng: np.random.Generator, pronoun: str) -> str:
  nw = text_lib.number_to_words
  if slot == "pronoun":
    return pronoun
  if slot == "percent":
    return nw(int(rng.integers(1, 21)) * 5)
  if slot == "degrees":
    return nw(int(rng.integers(16, 30)))
  if slot == "minutes":
    return nw(int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 18, 20,
                              25, 30, 35, 40, 45, 50, 60, 90])))
  if slot == "hours":
    return nw(int(rng.integers(2, 9)))
  if slot == "small_number":
    return nw(int(rng.integers(2, 13)))
  if slot == "number":
    return nw(int(rng.integers(2, 100)))
  if slot == "time":
    return _time_words(rng)
  table = {"city": CITIES, "item": ITEMS, "genre": GENRES, "room": ROOMS,
           "food": FOODS, "task": TASKS, "weekday": WEEKDAYS,
           "language": LANGUAGES, "holiday": HOLIDAYS,
           "spell_word": SPELL_WORDS, "artist": ARTISTS, "song": SONGS}
  if slot not in table:
    raise KeyError(f"unknown template slot {{{slot}}}")
  value = str(rng.choice(table[slot]))
  return value


def no_entity_fraction(num_samples: int = 4000, seed: int = 0) -> float:
  """Fraction of sampled requests without a contact/device (for checks)."""
  rng = np.random.default_rng(seed)
  c = [("ann lee", "Ann Lee")]
  d = [("desk lamp", "desk lamp")]
  return float(np.mean([not sample_request(rng, c, d).entities
                        for _ in range(num_samples)]))
