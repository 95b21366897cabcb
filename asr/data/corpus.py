"""Generator of the voice-assistant speech corpus.

An example is an audio stream as a voice assistant hears it::

  [lead silence][wake word][pause][request][trailing silence]  + noise, gain

spoken by one synthetic voice, belonging to a simulated user whose contact and
device names fill the request's entity slots. Generation is a pure function of
``(config, split, index)``: every example draws from its own
``np.random.default_rng((seed, split_id, index))``; TTS engines are
deterministic (piper's in-graph noise is seeded per chunk, see
``tts.reset_piper``), so the corpus does not depend on the number of workers.

Three stages per chunk of examples: *plan* (texts, voices, augmentation; cheap
and pure), *synthesize* (grouped by engine; festival in one process), and
*assemble* (trim, place, mix noise).
"""

import dataclasses
import functools
import json
import zlib
from typing import Iterator, Sequence

import numpy as np

from asr.data import grammar
from asr.data import names as names_lib
from asr.data import text as text_lib
from asr.data import tts

SR = tts.SAMPLE_RATE
SPLITS = ("train", "validation", "test", "test_noisy", "test_unseen_voice",
          "unlabeled")
# Which name pool each split's users draw from (test splits: unseen names).
SPLIT_POOL = {"train": "train", "validation": "validation", "test": "test",
              "test_noisy": "test", "test_unseen_voice": "test",
              "unlabeled": "train"}
# Voices held out of every split but test_unseen_voice, in order of preference
# (first available wins). SLT is held out in both its renderings.
HELD_OUT_PREFERENCE = (
    (("festival", "cmu_us_slt_arctic_hts"), ("flite", "slt")),
    (("flite", "slt"),),
    (("piper", "joe"),),
)


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
  """Knobs of the corpus; every field is recorded in the dataset's metadata.

  Attributes:
    seed: the corpus seed; same seed (and engines) -> same corpus.
    split_sizes: number of examples per split.
    num_users: simulated users per split (each with contacts and devices).
    wake_word: the word spoken before each request.
    contacts_per_user / devices_per_user: inclusive ranges of list sizes.
    engine_weights: relative probability of each TTS engine (renormalized over
      the engines installed here).
    noise_probs: probabilities of (none, white, pink, babble) noise.
    snr_db: uniform range of the additive-noise SNR (dB re. speech RMS).
    talker_snr_db: SNR range of the competing talker in ``test_noisy``.
    gain_db: uniform range of the overall gain applied after mixing (dB re.
      a speech RMS of -20 dBFS).
    lead_s / pause_s / trail_s: uniform ranges of leading silence, pause after
      the wake word and trailing silence, in seconds.
    chunk_size: examples per generation task (fixed: part of determinism).
  """
  seed: int = 0
  split_sizes: tuple[tuple[str, int], ...] = (
      ("train", 96), ("validation", 16), ("test", 24), ("test_noisy", 16),
      ("test_unseen_voice", 16), ("unlabeled", 16))
  num_users: tuple[tuple[str, int], ...] = (
      ("train", 16), ("validation", 4), ("test", 6), ("test_noisy", 4),
      ("test_unseen_voice", 4), ("unlabeled", 4))
  wake_word: str = "alexa"
  contacts_per_user: tuple[int, int] = (4, 30)
  devices_per_user: tuple[int, int] = (3, 14)
  engine_weights: tuple[tuple[str, float], ...] = (
      ("espeak", 0.5), ("flite", 0.2), ("festival", 0.18), ("piper", 0.12))
  noise_probs: tuple[float, float, float, float] = (0.25, 0.2, 0.25, 0.3)
  snr_db: tuple[float, float] = (5.0, 30.0)
  talker_snr_db: tuple[float, float] = (4.0, 12.0)
  gain_db: tuple[float, float] = (-12.0, 6.0)
  lead_s: tuple[float, float] = (0.1, 0.5)
  pause_s: tuple[float, float] = (0.15, 0.5)
  trail_s: tuple[float, float] = (0.6, 1.5)
  chunk_size: int = 50

  def size(self, split: str) -> int:
    return dict(self.split_sizes)[split]

  def users(self, split: str) -> int:
    return dict(self.num_users)[split]

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


def _split_id(split: str) -> int:
  return SPLITS.index(split)


def _rng(cfg: CorpusConfig, split: str, *keys: int) -> np.random.Generator:
  return np.random.default_rng((cfg.seed, _split_id(split)) + tuple(keys))


# ----------------------------------------------------------------------------
# Voices.


@functools.cache
def voice_inventory() -> tuple[dict[str, tuple[str, ...]], tuple[tuple[str, str], ...]]:
  """(voices usable by the regular splits, held-out (engine, voice) pairs)."""
  avail = tts.available_voices()
  held: tuple[tuple[str, str], ...] = ()
  for option in HELD_OUT_PREFERENCE:
    if option[0][1] in avail.get(option[0][0], ()):
      held = tuple(o for o in option if o[1] in avail.get(o[0], ()))
      break
  if not held:  # Only espeak: hold out one accent with all its variants.
    held = tuple(("espeak", v) for v in avail.get("espeak", ())
                 if v.startswith("en-029+"))
  regular = {}
  for engine, voices in avail.items():
    keep = tuple(v for v in voices if (engine, v) not in held)
    if keep:
      regular[engine] = keep
  if not regular:
    raise RuntimeError("No TTS engine is installed (espeakng-loader missing?)")
  return regular, held


_FLITE_F0 = {"kal": 100.0, "kal16": 105.0, "awb": 110.0, "rms": 100.0,
             "slt": 165.0}


def _sample_voice(rng: np.random.Generator, cfg: CorpusConfig,
                  held_out: bool, exclude_speaker: str | None = None,
                  engines: Sequence[str] | None = None) -> tts.Voice:
  regular, held = voice_inventory()
  if held_out:
    # The first held-out entry is the unseen voice; the others are only
    # excluded (other renderings of the same speaker).
    engine, name = held[0] if held[0][0] != "espeak" else held[rng.integers(len(held))]
  else:
    weights = {e: w for e, w in cfg.engine_weights if e in regular}
    if engines is not None:
      weights = {e: w for e, w in weights.items() if e in engines}
    es = sorted(weights)
    p = np.array([weights[e] for e in es])
    while True:
      engine = es[rng.choice(len(es), p=p / p.sum())]
      name = str(rng.choice(regular[engine]))
      if f"{engine}:{name}" != exclude_speaker:
        break
  u = rng.uniform
  if engine == "espeak":
    return tts.Voice(engine, name, rate=u(0.8, 1.3), pitch=u(25, 75),
                     pitch_range=u(20, 80))
  if engine == "piper":
    return tts.Voice(engine, name, rate=u(0.8, 1.25), noise_scale=u(0.4, 0.9),
                     noise_w=u(0.5, 1.0))
  if engine == "flite":
    return tts.Voice(engine, name, rate=u(0.85, 1.2),
                     pitch=_FLITE_F0.get(name, 100.0) * u(0.85, 1.2))
  return tts.Voice(engine, name, rate=u(0.85, 1.2))


# ----------------------------------------------------------------------------
# Users.


@dataclasses.dataclass(frozen=True)
class User:
  """A simulated user: contacts and devices as (normalized, display) pairs."""
  user_id: int
  contacts: tuple[tuple[str, str], ...]
  devices: tuple[tuple[str, str], ...]

  @property
  def context(self) -> list[str]:
    """The user's biasing list: all contact and device names (normalized)."""
    return [n for n, _ in self.contacts] + [n for n, _ in self.devices]


def _sample_contact(rng, pool) -> tuple[str, str]:
  f_norm, f_disp = pool["first"][rng.integers(len(pool["first"]))]
  if rng.random() < 0.15:
    return f_norm, f_disp
  l_norm, l_disp = pool["last"][rng.integers(len(pool["last"]))]
  return f"{f_norm} {l_norm}", f"{f_disp} {l_disp}"


def _sample_device(rng, pool) -> tuple[str, str]:
  noun = str(rng.choice(names_lib.DEVICE_NOUNS))
  r = rng.random()
  if r < 0.45:
    mod = str(rng.choice(pool["modifiers"]))
    return f"{mod} {noun}", f"{mod} {noun}"
  if r < 0.85:
    o_norm, o_disp = pool["first"][rng.integers(len(pool["first"]))]
    return f"{o_norm}'s {noun}", f"{o_disp}'s {noun}"
  room = str(rng.choice(grammar.ROOMS))
  return f"{room} {noun}", f"{room} {noun}"


@functools.cache
def _pools():
  return names_lib.name_pools(grammar.vocabulary())


@functools.cache
def users_for_split(cfg: CorpusConfig, split: str) -> tuple[User, ...]:
  """The split's simulated users (deterministic in seed and split)."""
  pool = _pools()[SPLIT_POOL[split]]
  rng = _rng(cfg, split, 1 << 30)
  users = []
  for uid in range(cfg.users(split)):
    nc = int(rng.integers(cfg.contacts_per_user[0], cfg.contacts_per_user[1] + 1))
    nd = int(rng.integers(cfg.devices_per_user[0], cfg.devices_per_user[1] + 1))
    contacts = {}
    while len(contacts) < nc:
      n, d = _sample_contact(rng, pool)
      contacts.setdefault(n, d)
    devices = {}
    while len(devices) < nd:
      n, d = _sample_device(rng, pool)
      devices.setdefault(n, d)
    users.append(User(uid, tuple(contacts.items()), tuple(devices.items())))
  return tuple(users)


# ----------------------------------------------------------------------------
# Planning.


@dataclasses.dataclass
class Plan:
  """Everything random about one example, decided before synthesis."""
  key: str
  split: str
  index: int
  user: User
  request: grammar.Request
  voice: tts.Voice
  aug: dict
  # Extra speech mixed in: [(text, voice)] for babble or a competing talker.
  interferers: list[tuple[str, tts.Voice]]
  context: list[str]


def _tts_text(text: str, voice: tts.Voice) -> str:
  # flite and festival have no letter-to-sound rules for diacritics.
  return text_lib.fold_accents(text) if voice.engine in ("flite", "festival") else text


def plan_example(cfg: CorpusConfig, split: str, index: int) -> Plan:
  rng = _rng(cfg, split, index)
  users = users_for_split(cfg, split)
  user = users[rng.integers(len(users))]
  request = grammar.sample_request(rng, list(user.contacts), list(user.devices))
  voice = _sample_voice(rng, cfg, held_out=(split == "test_unseen_voice"))
  context = list(user.context)
  rng.shuffle(context)
  aug = {
      "lead_s": float(rng.uniform(*cfg.lead_s)),
      "pause_s": float(rng.uniform(*cfg.pause_s)),
      "trail_s": float(rng.uniform(*cfg.trail_s)),
      "gain_db": float(rng.uniform(*cfg.gain_db)),
      "floor_db": float(rng.uniform(55, 70)),
  }
  interferers = []
  if split == "test_noisy":
    aug["noise"] = "talker"
    aug["snr_db"] = float(rng.uniform(*cfg.talker_snr_db))
    talker = _sample_voice(rng, cfg, held_out=False, exclude_speaker=voice.speaker)
    for _ in range(4):
      other = grammar.sample_request(rng, list(user.contacts), list(user.devices))
      interferers.append((other.tts_text, talker))
  else:
    kind = ("none", "white", "pink", "babble")[rng.choice(4, p=cfg.noise_probs)]
    aug["noise"] = kind
    if kind != "none":
      lo, hi = cfg.snr_db
      aug["snr_db"] = float(rng.uniform(max(lo, 8.0) if kind == "babble" else lo, hi))
    if kind == "babble":
      for _ in range(int(rng.integers(3, 6))):
        other = grammar.sample_request(rng, list(user.contacts), list(user.devices))
        # Babble from espeak only: many voices, and ~5 ms per utterance.
        v = _sample_voice(rng, cfg, held_out=False, engines=("espeak",))
        interferers.append((other.tts_text, v))
  aug["noise_seed"] = int(rng.integers(2**31))
  return Plan(f"{split}/{index:07d}", split, index, user, request, voice, aug,
              interferers, context)


# ----------------------------------------------------------------------------
# Assembly.


def rms(x: np.ndarray) -> float:
  return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
  """Pink (1/f power) noise by spectral shaping of white noise."""
  spec = np.fft.rfft(rng.standard_normal(n))
  f = np.arange(len(spec), dtype=np.float64)
  f[0] = 1.0
  return np.fft.irfft(spec / np.sqrt(f), n)


def fill_track(pieces: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
  """Concatenates speech pieces with short gaps into a track of length n."""
  out = np.zeros(n, np.float64)
  pos = int(rng.integers(0, SR // 2))
  i = 0
  while pos < n and pieces:
    p = pieces[i % len(pieces)]
    m = min(len(p), n - pos)
    out[pos:pos + m] += p[:m]
    pos += m + int(rng.integers(SR // 10, SR // 2))
    i += 1
  return out


def assemble(plan: Plan, wake: np.ndarray, req: np.ndarray,
             interferers: list[np.ndarray], wake_word: str) -> dict:
  """Places trimmed wake word and request on the timeline and mixes noise."""
  wake = tts.trim_silence(wake).astype(np.float64) / 32768.0
  req = tts.trim_silence(req).astype(np.float64) / 32768.0
  if len(wake) == 0 or len(req) == 0:
    raise RuntimeError(f"{plan.key}: TTS produced no audio for {plan.voice}")
  a = plan.aug
  # Loudness of the two segments is matched (same speaker, same session).
  speech_rms = rms(np.concatenate([wake, req]))
  lead, pause, trail = (int(a[k] * SR) for k in ("lead_s", "pause_s", "trail_s"))
  n = lead + len(wake) + pause + len(req) + trail
  x = np.zeros(n, np.float64)
  x[lead:lead + len(wake)] = wake
  s0 = lead + len(wake) + pause
  x[s0:s0 + len(req)] = req
  x /= speech_rms  # speech at unit RMS from here on
  rng = np.random.default_rng(a["noise_seed"])
  kind = a["noise"]
  noise = None
  if kind == "white":
    noise = rng.standard_normal(n)
  elif kind == "pink":
    noise = _pink(rng, n)
  elif kind in ("babble", "talker"):
    tracks = []
    for w in interferers:
      w = tts.trim_silence(w).astype(np.float64) / 32768.0
      if len(w):
        tracks.append(w / rms(w))
    if tracks:
      if kind == "talker":
        noise = fill_track(tracks, n, rng)
      else:
        noise = sum(fill_track([t], n, rng) for t in tracks)
  if noise is not None:
    x += noise / rms(noise) * 10 ** (-a["snr_db"] / 20)
  # A faint noise floor everywhere: no digital silence in a real stream.
  x += rng.standard_normal(n) * 10 ** (-a["floor_db"] / 20)
  x *= 10 ** ((-20.0 + a["gain_db"]) / 20)
  peak = np.max(np.abs(x))
  if peak > 0.98:  # avoid clipping; the recorded gain is the requested one
    x *= 0.98 / peak
  audio = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
  wake_end = (lead + len(wake)) / SR
  speech_start = s0 / SR
  speech_end = (s0 + len(req)) / SR
  r = plan.request
  return {
      "id": plan.key,
      "audio": audio,
      "duration": np.float32(n / SR),
      "text": r.text,
      "stream_text": f"{text_lib.normalize_transcript(wake_word)} {r.text}",
      "tts_text": r.tts_text,
      "context": plan.context,
      "wake_end": np.float32(wake_end),
      "speech_start": np.float32(speech_start),
      "speech_end": np.float32(speech_end),
      "entities": {
          "start": np.array([e[0] for e in r.entities], np.int32),
          "end": np.array([e[1] for e in r.entities], np.int32),
          "kind": [e[2] for e in r.entities],
          "phrase": [e[3] for e in r.entities],
      },
      "user_id": np.int32(plan.user.user_id),
      "domain": r.domain,
      "intent": r.intent,
      "engine": plan.voice.engine,
      "voice": plan.voice.name,
      "voice_params": json.dumps(plan.voice.to_json(), sort_keys=True),
      "augmentation": json.dumps(a, sort_keys=True),
  }


def generate_chunk(cfg: CorpusConfig, split: str, start: int, stop: int) -> list[dict]:
  """Generates examples [start, stop) of a split (one worker task)."""
  plans = [plan_example(cfg, split, i) for i in range(start, stop)]
  requests = []
  for p in plans:
    requests.append((_tts_text(cfg.wake_word, p.voice), p.voice))
    requests.append((_tts_text(p.request.tts_text, p.voice), p.voice))
    requests.extend((_tts_text(t, v), v) for t, v in p.interferers)
  if any(v.engine == "piper" for _, v in requests):
    tts.reset_piper(zlib.crc32(f"{cfg.seed}/{split}/{start}".encode()))
  wavs = tts.synthesize(requests)
  out, k = [], 0
  for p in plans:
    n = 2 + len(p.interferers)
    out.append(assemble(p, wavs[k], wavs[k + 1], wavs[k + 2:k + n], cfg.wake_word))
    k += n
  return out


def _chunk_task(args):
  return generate_chunk(*args)


def worker_pool(num_workers: int):
  """A process pool for :func:`generate_split` (spawned: the parent may have
  imported JAX or onnxruntime, which are not fork-safe). Use as a context manager."""
  import multiprocessing  # pylint: disable=g-import-not-at-top
  return multiprocessing.get_context("spawn").Pool(num_workers)


def generate_split(cfg: CorpusConfig, split: str, pool=None,
                   progress: bool = True) -> Iterator[dict]:
  """Yields the split's examples in index order.

  Args:
    cfg: the corpus config.
    split: one of ``SPLITS``.
    pool: optional ``multiprocessing.Pool`` (see :func:`worker_pool`); chunks
      of ``cfg.chunk_size`` examples are generated in parallel, in order.
    progress: show a tqdm progress bar.
  """
  n = cfg.size(split)
  tasks = [(cfg, split, s, min(n, s + cfg.chunk_size))
           for s in range(0, n, cfg.chunk_size)]
  bar = None
  if progress:
    import tqdm  # pylint: disable=g-import-not-at-top
    bar = tqdm.tqdm(total=n, desc=f"{split}", unit="utt", leave=False)
  chunks = map(_chunk_task, tasks) if pool is None else pool.imap(_chunk_task, tasks)
  try:
    for chunk in chunks:
      for ex in chunk:
        if bar:
          bar.update(1)
        yield ex
  finally:
    if bar:
      bar.close()


def split_name_pool(cfg: CorpusConfig, split: str) -> list[str]:
  """All context phrases of a split's users (the pool distractors come from)."""
  phrases = []
  for u in users_for_split(cfg, split):
    phrases.extend(u.context)
  return sorted(set(phrases))
