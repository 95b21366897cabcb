"""Training/evaluation input pipeline: cached features, length buckets, batches.

CPU training is compute-bound, so the pipeline does its work once: it reads
the split (``tfds.data_source`` or a manifest) through a grain ``MapDataset``,
crops each stream to the request (``[wake_end, speech_end + trailing]``),
computes log-mel features and wordpiece ids, and keeps them in memory as
float16. Batches are then cut from length buckets with one fixed shape per
bucket (few jit compilations) and a batch size that keeps ``B * T`` about
``batch_frames``.

The order of batches is a pure function of ``(seed, epoch)``: batch ``k`` of
the run is batch ``k % n`` of epoch ``k // n``. Resuming at step ``k``
therefore replays exactly the data the killed run would have seen.
"""

import dataclasses
import logging
import math
import time
from typing import Any, Iterator, Sequence

import numpy as np

from asr.data import cmvn as cmvn_lib
from asr.data import features as features_lib
from asr.data import tokenizer as tokenizer_lib

SR = features_lib.SAMPLE_RATE


@dataclasses.dataclass
class Utterance:
  """A prepared utterance: features [T, F] float16 and label ids [U] int32."""
  id: str
  feats: np.ndarray
  labels: np.ndarray
  text: str
  context: list[str]
  entities: list[dict]
  biasing_list: list[str] | None = None  # a manifest's fixed list (Le et al. TSVs)
  # Stream context: features [Tw, F] of the audio just before the request
  # (the wake-word segment), Tw a multiple of whole encoder chunks; None when
  # the pipeline was not asked for it (see wake_context_feats).
  wake_feats: np.ndarray | None = None
  # (start, end) of speech in seconds from the request start (the wake word's
  # end), where the source records them; the branching router's speech target.
  speech_span: tuple[float, float] | None = None


def crop_request(ex: dict, trailing_s: float | None, leading_s: float = 0.0) -> np.ndarray:
  """The request part of a stream: from the wake word's end (if known) to
  ``trailing_s`` seconds after the end of speech (None: to the end)."""
  audio = ex["audio"]
  start = ex.get("wake_end")
  start = 0 if start is None else max(0, int((start - leading_s) * SR))
  end = len(audio)
  if trailing_s is not None and ex.get("speech_end") is not None:
    end = min(end, int((ex["speech_end"] + trailing_s) * SR))
  return audio[start:end]


def utterance_cmvn(feats: np.ndarray, top_fraction: float = 0.3,
                   apply_to: np.ndarray | None = None) -> np.ndarray:
  """Per-utterance mean and variance normalization of log-mel features.

  The statistics come from the loudest ``top_fraction`` of frames (by mean
  log-mel energy), i.e. mostly speech, so that the amount of silence around
  the request (short in training crops, long in evaluation streams) does not
  shift them. Removes per-utterance gain and channel/voice spectral tilt,
  which on this many-voice TTS corpus speeds up learning markedly (CTC loss
  after 1,000 steps 2.14 vs 2.55 per character in a 2-layer probe).

  Args:
    feats: [T, F] log-mel features.
    apply_to: optional [T2, F] frames to normalize with ``feats``' statistics
      instead (the stream context takes its request's statistics).
  Returns:
    float32 [T, F] (or [T2, F]).
  """
  f = np.asarray(feats, np.float32)
  out = f if apply_to is None else np.asarray(apply_to, np.float32)
  if len(f) == 0 or len(out) == 0:
    return out
  energy = f.mean(axis=1)
  k = max(1, int(round(len(f) * top_fraction)))
  sel = f[np.argsort(energy)[-k:]]
  return (out - sel.mean(0)) / (sel.std(0) + 0.5)


CMVN_MODES = ("global", "utterance", "causal")


@dataclasses.dataclass(frozen=True)
class TalkerMix:
  """Competing-talker augmentation of training streams (waveform level).

  With probability ``prob`` an utterance gets a second voice mixed over its
  whole stream, wake-word segment included (as in ``test_noisy``): the
  speech segments of ``pieces`` other utterances of the same source, laid
  end to end with 0.1-0.5 s gaps from a random start, at an SNR drawn from
  ``snr_db`` relative to the utterance's own speech. The choice of partners,
  SNR and placement is a pure function of ``(seed, index)``: the same
  utterance gets the same mixture in every run (static augmentation), and
  resuming replays it.

  ``same_user``: the partners are other utterances of the same ``user_id``
  spoken by another voice (a household talking about the same contacts and
  devices, as ``test_noisy``'s talker does), so that the other voice cannot
  be told apart by its words; any utterance when the user has none.
  """
  prob: float = 0.0
  snr_db: tuple[float, float] = (4.0, 12.0)
  pieces: int = 2
  seed: int = 0
  same_user: bool = False


def same_user_partners(users: Sequence[Any], voices: Sequence[Any]) -> list[list[int]]:
  """Per utterance i: the indices j != i with users[j] == users[i] and
  voices[j] != voices[i], ascending."""
  by_user: dict[Any, list[int]] = {}
  for j, u in enumerate(users):
    by_user.setdefault(u, []).append(j)
  return [[j for j in by_user[u] if j != i and voices[j] != voices[i]]
          for i, u in enumerate(users)]


def speech_segment(ex: dict) -> np.ndarray:
  """The audio between ``speech_start`` and ``speech_end`` (the whole
  audio where the example does not give them), int16 [N]."""
  audio = ex["audio"]
  s0, s1 = ex.get("speech_start"), ex.get("speech_end")
  if s0 is None or s1 is None:
    return audio
  return audio[int(s0 * SR):int(s1 * SR)]


def mix_talker(ex: dict, pieces: Sequence[np.ndarray], snr_db: float,
               rng: np.random.Generator) -> dict:
  """A copy of ``ex`` whose ``audio`` has ``pieces`` (int16 speech) mixed in
  as a competing talker ``snr_db`` below the example's own speech (RMS over
  :func:`speech_segment`). Clipped to int16."""
  from asr.data import corpus  # pylint: disable=g-import-not-at-top
  audio = ex["audio"]
  n = len(audio)
  pieces = [p.astype(np.float64) for p in pieces if len(p)]
  if not pieces or n == 0:
    return ex
  # Laid out as the corpus lays out test_noisy's talker (gaps of 0.1-0.5 s).
  track = corpus.fill_track(pieces, n, rng)
  target = corpus.rms(speech_segment(ex))
  track *= target / max(corpus.rms(np.concatenate(pieces)), 1e-9) * 10 ** (-snr_db / 20)
  mixed = np.clip(np.round(audio.astype(np.float64) + track), -32768, 32767).astype(np.int16)
  return {**ex, "audio": mixed}


def talker_plan(i: int, n: int, mix: TalkerMix, partners: Sequence[Sequence[int]] | None = None):
  """(partner indices or None when utterance i is not mixed, its generator):
  the random choices of :class:`TalkerMix` for utterance i of n, a function
  of (mix.seed, i); ``partners``: per-utterance candidates (same_user)."""
  rng = np.random.default_rng((mix.seed, int(i), 0x7A1C))
  if n < 2 or rng.random() >= mix.prob:
    return None, rng
  if partners is not None and partners[i]:
    return [partners[i][int(k)] for k in rng.choice(len(partners[i]), size=mix.pieces)], rng
  others = [int(j) for j in rng.choice(n - 1, size=mix.pieces)]
  return [j + (j >= i) for j in others], rng  # never the utterance itself


def _talker_fn(source, n: int, mix: TalkerMix):
  """(index, example) -> example, mixed with probability ``mix.prob``."""
  partners = None
  if mix.same_user:  # one pass over the source for the user and voice of each utterance
    meta = [(source[j].get("user_id"), source[j].get("voice")) for j in range(n)]
    partners = same_user_partners([m[0] for m in meta], [m[1] for m in meta])
    logging.info("talker mix: same-user partners for %d of %d utterances",
                 sum(bool(p) for p in partners), n)

  def fn(i, ex):
    others, rng = talker_plan(i, n, mix, partners)
    if others is None:
      return ex
    pieces = [speech_segment(source[j]) for j in others]
    return mix_talker(ex, pieces, float(rng.uniform(*mix.snr_db)), rng)
  return fn


def wake_window_frames(max_seconds: float, subsample_factor: int, chunk_size: int) -> int:
  """Feature frames of stream context: ``max_seconds`` rounded down to whole
  encoder chunks of ``subsample_factor * chunk_size`` frames."""
  quantum = subsample_factor * max(chunk_size, 1)
  return int(round(max_seconds * SR / features_lib.HOP)) // quantum * quantum


CONTEXT_ALIGNS = ("chunk", "frame")


def stream_context_frames(config) -> tuple[int, int]:
  """(wake_frames, quantum) of an experiment config: (0, 1) unless
  ``data.stream_context.enabled``. ``wake_frames`` is the batches' context
  width (whole chunks); ``quantum`` the unit each utterance's context is
  rounded down to: whole chunks (``align="chunk"``, the default) or whole
  encoder frames (``"frame"``: the model left-pads it to whole chunks)."""
  sc = config.data.get("stream_context")
  if not sc or not sc.get("enabled"):
    return 0, 1
  e = config.model.encoder
  align = sc.get("align", "chunk")
  if align not in CONTEXT_ALIGNS:
    raise ValueError(f"data.stream_context.align must be one of {CONTEXT_ALIGNS}, got {align!r}")
  quantum = e.subsample_factor * (max(e.chunk_size, 1) if align == "chunk" else 1)
  return wake_window_frames(sc.max_seconds, e.subsample_factor, e.chunk_size), quantum


def wake_context_feats(ex: dict, max_frames: int, quantum: int, num_bins: int = 80) -> np.ndarray:
  """Log-mel frames [Tw, F] of the stream context: the audio just before the
  request start (``wake_end``; the wake word and what precedes it).

  Tw = the most frames that fit before the request, at most ``max_frames``,
  rounded down to a multiple of ``quantum`` (whole encoder chunks or frames,
  :func:`stream_context_frames`; 0 if the example has no ``wake_end``). The
  frames are cut on the request's 10 ms grid and the last ones overlap its
  first samples, exactly as a stream computed from the wake segment on:
  features of [context; request] are these frames followed by the
  request-only features.
  """
  start = ex.get("wake_end")
  if start is None or max_frames <= 0:
    return np.zeros((0, num_bins), np.float32)
  req = max(0, int(start * SR))
  n = min(req // features_lib.HOP, max_frames) // quantum * quantum
  if n == 0:
    return np.zeros((0, num_bins), np.float32)
  seg = ex["audio"][req - n * features_lib.HOP:req + features_lib.WINDOW - features_lib.HOP]
  need = n * features_lib.HOP + features_lib.WINDOW - features_lib.HOP
  if len(seg) < need:  # the request is shorter than one window: pad silence
    seg = np.concatenate([seg, np.zeros(need - len(seg), seg.dtype)])
  return features_lib.log_mel(seg, num_bins)


def request_prefix(ex: dict, num_bins: int = 80) -> np.ndarray | None:
  """Raw log-mel frames of the audio before the request (the wake-word
  segment), the statistics prefix of causal CMVN; None if unknown/too short."""
  start = ex.get("wake_end")
  if start is None:
    return None
  prefix = ex["audio"][:int(start * SR)]
  if len(prefix) < features_lib.WINDOW:
    return None
  return features_lib.log_mel(prefix, num_bins)


def _prepare_fn(tokenizer: tokenizer_lib.Tokenizer | None, trailing_s, num_bins,
                min_frames, cmvn: str = "global", cmvn_block: int = cmvn_lib.DEFAULT_BLOCK,
                wake_frames: int = 0, wake_quantum: int = 1):
  """Example dict -> Utterance. ``cmvn``: "global" leaves the features for
  the model's global normalization; "utterance" applies
  :func:`utterance_cmvn` first (see ``data.cmvn``); "causal" applies the
  streaming recognizer's causal estimate (:mod:`asr.data.cmvn`: statistics of
  the wake-word prefix plus the request so far, updated every ``cmvn_block``
  frames), for models trained with "utterance". ``wake_frames`` > 0 adds the
  stream context (:func:`wake_context_feats`), normalized like the request
  ("utterance": with the request's statistics)."""
  if cmvn not in CMVN_MODES:
    raise ValueError(f"data.cmvn must be one of {CMVN_MODES}, got {cmvn!r}")
  if wake_frames and cmvn == "causal":
    raise ValueError("stream context with data.cmvn='causal' is not supported")

  def fn(ex):
    audio = crop_request(ex, trailing_s)
    need = features_lib.WINDOW + (min_frames - 1) * features_lib.HOP
    if len(audio) < need:  # too short for one encoder frame: pad silence
      audio = np.concatenate([audio, np.zeros(need - len(audio), audio.dtype)])
    feats = features_lib.log_mel(audio, num_bins)
    wake = None
    if wake_frames:
      wake = wake_context_feats(ex, wake_frames, wake_quantum, num_bins)
      if cmvn == "utterance":
        wake = utterance_cmvn(feats, apply_to=wake)
      wake = wake.astype(np.float16)
    if cmvn == "utterance":
      feats = utterance_cmvn(feats)
    elif cmvn == "causal":
      feats = cmvn_lib.causal_cmvn(feats, request_prefix(ex, num_bins), cmvn_block)
    feats = feats.astype(np.float16)
    text = ex.get("text", "")
    labels = np.array(tokenizer.encode(text) if tokenizer and text else [], np.int32)
    span = None
    if ex.get("speech_start") is not None and ex.get("speech_end") is not None:
      w = ex.get("wake_end") or 0.0
      span = (float(ex["speech_start"]) - w, float(ex["speech_end"]) - w)
    return Utterance(ex["id"], feats, labels, text, list(ex.get("context", [])),
                     list(ex.get("entities", [])), ex.get("biasing_list"), wake, span)
  return fn


def prepare_utterances(source, tokenizer, trailing_s: float | None, num_bins: int = 80,
                       min_frames: int = 11, limit: int | None = None,
                       log_every: int = 2000, cmvn: str = "global",
                       cmvn_block: int = cmvn_lib.DEFAULT_BLOCK, wake_frames: int = 0,
                       wake_quantum: int = 1,
                       talker_mix: TalkerMix | None = None) -> list[Utterance]:
  """Reads, crops, featurizes and tokenizes a whole source (in order);
  ``wake_frames`` > 0 keeps the stream context (see :func:`_prepare_fn`);
  ``talker_mix`` (training) mixes competing talkers in first."""
  import grain  # pylint: disable=g-import-not-at-top
  n = len(source) if limit is None else min(limit, len(source))
  ds = grain.MapDataset.source(source)[:n]
  if talker_mix is not None and talker_mix.prob > 0:
    ds = ds.map_with_index(_talker_fn(source, n, talker_mix))
  ds = ds.map(
      _prepare_fn(tokenizer, trailing_s, num_bins, min_frames, cmvn, cmvn_block, wake_frames,
                  wake_quantum))
  out = []
  t0 = time.time()
  for i, utt in enumerate(ds):
    out.append(utt)
    if log_every and (i + 1) % log_every == 0:
      logging.info("prepared %d/%d utterances (%.0f/s)", i + 1, n, (i + 1) / (time.time() - t0))
  return out


def feature_stats(utts: Sequence[Utterance]) -> tuple[np.ndarray, np.ndarray]:
  """Per-bin mean and standard deviation over all frames (float32 [F] x2)."""
  total = np.zeros(utts[0].feats.shape[1], np.float64)
  sq = np.zeros_like(total)
  n = 0
  for u in utts:
    f = u.feats.astype(np.float64)
    total += f.sum(0)
    sq += (f ** 2).sum(0)
    n += len(f)
  mean = total / n
  std = np.sqrt(np.maximum(sq / n - mean ** 2, 1e-8))
  return mean.astype(np.float32), std.astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Bucket:
  max_frames: int  # padded T
  max_labels: int  # padded U
  batch_size: int
  members: tuple[int, ...]  # utterance indices


def make_buckets(utts: Sequence[Utterance], batch_frames: int, num_buckets: int,
                 multiple_of: int = 1, frame_quantum: int = 32,
                 max_batch: int = 512) -> list[Bucket]:
  """Splits utterances into ``num_buckets`` length quantiles.

  Each bucket's shape is its longest member's (T rounded up to
  ``frame_quantum``, U rounded up to 8); its batch size keeps ``B * T`` near
  ``batch_frames`` and is a multiple of ``multiple_of`` (the device count).
  """
  lengths = np.array([len(u.feats) for u in utts])
  order = np.argsort(lengths, kind="stable")
  buckets = []
  for part in np.array_split(order, num_buckets):
    if len(part) == 0:
      continue
    t = int(math.ceil(lengths[part].max() / frame_quantum) * frame_quantum)
    u = int(math.ceil(max(1, max(len(utts[i].labels) for i in part)) / 8) * 8)
    b = max(multiple_of, min(max_batch, batch_frames // t) // multiple_of * multiple_of)
    buckets.append(Bucket(t, u, b, tuple(int(i) for i in sorted(part))))
  return buckets


def epoch_batches(buckets: Sequence[Bucket], seed: int, epoch: int) -> list[tuple[int, np.ndarray]]:
  """The epoch's batches as (bucket index, utterance indices), shuffled.

  Every batch is full: the last partial batch of a bucket is filled with
  utterances drawn again from the same bucket. The number of batches per
  epoch is the same every epoch.
  """
  rng = np.random.default_rng((seed, epoch))
  batches = []
  for bi, b in enumerate(buckets):
    members = np.array(b.members)
    perm = rng.permutation(members)
    n = math.ceil(len(perm) / b.batch_size)
    extra = n * b.batch_size - len(perm)
    if extra:
      perm = np.concatenate([perm, rng.choice(members, extra)])
    for k in range(n):
      batches.append((bi, perm[k * b.batch_size:(k + 1) * b.batch_size]))
  order = rng.permutation(len(batches))
  return [batches[i] for i in order]


def collate(utts: Sequence[Utterance], idx: Sequence[int], bucket: Bucket,
            wake_frames: int = 0, speech_spans: bool = False) -> dict:
  """Pads a batch to the bucket's shape.

  Returns numpy arrays: feats [B, T, F] float32, feat_lengths [B],
  labels [B, U] int32, label_lengths [B]; with ``wake_frames`` > 0 also the
  stream context wake_feats [B, wake_frames, F] (each utterance's frames
  right-aligned, masked padding in front) and wake_lengths [B]; with
  ``speech_spans`` also speech_span [B, 2] float32, seconds from the request
  start, (-1, -1) where the utterance has none.
  """
  b = len(idx)
  f = utts[idx[0]].feats.shape[1]
  feats = np.zeros((b, bucket.max_frames, f), np.float32)
  labels = np.zeros((b, bucket.max_labels), np.int32)
  fl = np.zeros(b, np.int32)
  ll = np.zeros(b, np.int32)
  for k, i in enumerate(idx):
    u = utts[i]
    t = min(len(u.feats), bucket.max_frames)
    feats[k, :t] = u.feats[:t]
    fl[k] = t
    n = min(len(u.labels), bucket.max_labels)
    labels[k, :n] = u.labels[:n]
    ll[k] = n
  out = {"feats": feats, "feat_lengths": fl, "labels": labels, "label_lengths": ll}
  if wake_frames:
    wf = np.zeros((b, wake_frames, f), np.float32)
    wl = np.zeros(b, np.int32)
    for k, i in enumerate(idx):
      w = utts[i].wake_feats
      n = 0 if w is None else min(len(w), wake_frames)
      if n:
        wf[k, wake_frames - n:] = w[len(w) - n:]
      wl[k] = n
    out.update(wake_feats=wf, wake_lengths=wl)
  if speech_spans:
    out["speech_span"] = np.array([utts[i].speech_span or (-1.0, -1.0) for i in idx], np.float32)
  return out


class TrainBatches:
  """Infinite, resumable stream of training batches starting at ``step``.

  Collation runs in a background thread (grain prefetch) so that the host
  prepares batch k+1 while the device computes batch k.
  """

  def __init__(self, utts: Sequence[Utterance], buckets: Sequence[Bucket], seed: int,
               context_sampler: "ContextSampler | None" = None, wake_frames: int = 0,
               speech_spans: bool = False):
    self.utts = utts
    self.wake_frames = wake_frames
    self.speech_spans = speech_spans
    self.buckets = buckets
    self.seed = seed
    self.context_sampler = context_sampler
    self.per_epoch = len(epoch_batches(buckets, seed, 0))

  def iterate(self, start_step: int, prefetch: int = 2) -> Iterator[dict]:
    import grain  # pylint: disable=g-import-not-at-top
    ds = grain.MapDataset.range(start_step, 2**62).map(self._cached_batch_at)
    it = ds.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=prefetch))
    return iter(it)

  def _cached_batch_at(self, step: int) -> dict:
    epoch, k = divmod(step, self.per_epoch)
    if getattr(self, "_epoch", None) != epoch:
      self._epoch = epoch
      self._plan = epoch_batches(self.buckets, self.seed, epoch)
    bi, idx = self._plan[k]
    batch = collate(self.utts, idx, self.buckets[bi], self.wake_frames, self.speech_spans)
    if self.context_sampler is not None:
      batch.update(self.context_sampler.batch(self.utts, idx, step,
                                              self.buckets[bi].max_labels))
    return batch


def eval_batches(utts: Sequence[Utterance], batch_frames: int, num_buckets: int = 4,
                 multiple_of: int = 1, wake_frames: int = 0) -> Iterator[tuple[list[int], dict]]:
  """Deterministic batches covering every utterance once (padding rows are
  repeats of the last utterance and are flagged by index -1)."""
  buckets = make_buckets(utts, batch_frames, num_buckets, multiple_of)
  for b in buckets:
    members = list(b.members)
    for k in range(0, len(members), b.batch_size):
      idx = members[k:k + b.batch_size]
      pad = b.batch_size - len(idx)
      batch = collate(utts, idx + [idx[-1]] * pad, b, wake_frames)
      yield idx + [-1] * pad, batch


class PhraseTokens:
  """Tokenizes biasing phrases (cached) and pads lists into arrays."""

  def __init__(self, tokenizer, max_len: int = 12):
    self.tokenizer = tokenizer
    self.max_len = max_len
    self._cache: dict[str, list[int]] = {}

  def ids(self, phrase: str) -> list[int]:
    if phrase not in self._cache:
      self._cache[phrase] = self.tokenizer.encode(phrase)[:self.max_len]
    return self._cache[phrase]

  def pad(self, lists: Sequence[Sequence[str]], num_phrases: int | None = None) -> dict:
    """Lists of phrases -> tokens [B, N, L] int32, lengths [B, N] (0 = padding)."""
    n = max(1, num_phrases or max((len(l) for l in lists), default=1))
    tokens = np.zeros((len(lists), n, self.max_len), np.int32)
    lengths = np.zeros((len(lists), n), np.int32)
    for b, lst in enumerate(lists):
      for k, p in enumerate(lst[:n]):
        ids = self.ids(p)
        tokens[b, k, :len(ids)] = ids
        lengths[b, k] = len(ids)
    return {"ctx_tokens": tokens, "ctx_lengths": lengths}


@dataclasses.dataclass
class ContextSampler:
  """Training biasing lists for CATT (Chang et al. 2021; sampling not published).

  Each utterance's list holds each of its true entity phrases with probability
  ``keep_prob`` (so the model also learns when the right name is missing) plus
  ``k ~ U{0..max_distractors}`` distractors from ``pool`` (all context phrases
  of the training split), shuffled. Deterministic in (seed, step, row).
  """
  pool: Sequence[str]
  phrases: PhraseTokens
  max_distractors: int = 32
  keep_prob: float = 0.8
  max_entities: int = 4
  seed: int = 0
  # > 0: also the tree-pointer arrays (asr.biasing.pointer.training_arrays)
  # with this many candidates per label position.
  pointer_cands: int = 0

  @property
  def num_phrases(self) -> int:
    return self.max_distractors + self.max_entities

  def lists(self, utts: Sequence[Utterance], idx: Sequence[int], step: int) -> list[list[str]]:
    out = []
    for row, i in enumerate(idx):
      rng = np.random.default_rng((self.seed, step, row))
      own = sorted({e["phrase"] for e in utts[i].entities})[:self.max_entities]
      kept = [p for p in own if rng.random() < self.keep_prob]
      k = int(rng.integers(0, self.max_distractors + 1))
      picks = [self.pool[j] for j in rng.choice(len(self.pool), k, replace=False)] if k else []
      lst = kept + [p for p in picks if p not in own]
      rng.shuffle(lst)
      out.append(lst)
    return out

  def batch(self, utts, idx, step: int, max_labels: int | None = None) -> dict:
    """Padded lists; with ``max_labels`` also ``ctx_targets`` [B, max_labels+1]
    (see :func:`attention_targets`)."""
    lists = self.lists(utts, idx, step)
    out = self.phrases.pad(lists, self.num_phrases)
    if max_labels is not None:
      out["ctx_targets"] = attention_targets(
          [utts[i].labels for i in idx], lists,
          [{e["phrase"] for e in utts[i].entities} for i in idx], self.phrases, max_labels)
      if self.pointer_cands:
        from asr.biasing import pointer as pointer_lib  # pylint: disable=g-import-not-at-top
        arr = pointer_lib.training_arrays(
            [utts[i].labels for i in idx], [[self.phrases.ids(p) for p in l] for l in lists],
            max_labels, self.pointer_cands)
        out["ptr_cands"], out["ptr_target"] = arr["ptr_cands"], arr["ptr_target"]
    return out


def attention_targets(labels: Sequence[Sequence[int]], lists: Sequence[Sequence[str]],
                      own: Sequence[set], phrases: PhraseTokens, max_labels: int) -> np.ndarray:
  """Guided-attention targets for the label-query biasing attention.

  The prediction-network output at position u (after labels[:u]) predicts
  label u; its target is 1 + the list index of the true entity phrase whose
  wordpieces cover label u (found as a token subsequence of the transcript),
  or 0 (the no-bias entry) elsewhere, including for names left out of the
  list. Returns int32 [B, max_labels + 1].
  """
  out = np.zeros((len(labels), max_labels + 1), np.int32)
  for b, (lab, lst, mine) in enumerate(zip(labels, lists, own)):
    lab = list(lab)
    for j, p in enumerate(lst):
      if p not in mine:
        continue
      ids = phrases.ids(p)
      k = len(ids)
      for s in range(0, len(lab) - k + 1):
        if k and lab[s:s + k] == ids:
          out[b, s:min(s + k, max_labels)] = j + 1
  return out
