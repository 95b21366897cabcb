"""Device-side streaming session: partial results and the end-pointing protocol.

A :class:`StreamSession` wraps a :class:`asr.streaming.StreamingRecognizer`
(B concurrent streams, batched) and one end-pointer per stream, and turns audio
into events (dicts, one JSON line each in ``launch.stream``):

* ``partial``: the best hypothesis changed (``text``);
* ``speculative_endpoint`` (learned end-pointer only): the end-of-query
  probability crossed the speculative threshold (and, with
  ``Eoq.stable_frames`` = k > 0, the speculative result then stayed the same
  for k more steps, and with ``Eoq.min_completion`` > 0 a small LM
  finds it complete); carries the lattice of the
  N-best decoded so far (the pending partial chunk included) and
  ``action="start_downstream"``;
* ``final_endpoint``: the final threshold, a rule, the maximum utterance length
  or the end of the audio. ``action="confirm"`` when a speculative result
  exists and the final best text equals it; otherwise the (revised) lattice
  with ``action="reset_downstream"`` (a speculative result was sent) or
  ``"start_downstream"`` (none was). ``reason`` says what fired.

Every event has ``stream`` and ``t``: request audio seconds received when it
was decided (0 = end of the wake word). Audio is consumed in steps of one
end-of-query frame (``Eoq.pool`` x 10 ms; 80 ms by default and under the
rule end-pointer) at fixed stream offsets (ending when an end-of-query frame
is complete), so
events do not depend on how the caller cuts the audio. After the final
end-point a stream ignores further audio (``ignored_samples`` counts it).

Bad input: empty chunks are no-ops, NaN samples count as 0, out-of-range
samples are clipped (``StreamingRecognizer``); a stream that never stops
talking ends at ``max_utterance_s`` (sherpa-onnx's rule 3, 20 s); a stream
that stays silent ends after 2.4 s with nothing decoded (rule 1) under both
end-pointers, with an empty lattice.
"""

from typing import Sequence

import numpy as np

from asr import endpointing
from asr import streaming

STEP = 1280  # samples per end-pointing step (80 ms; Eoq.step_samples with a learned one)
# Steps end when an end-of-query frame's input is complete (step multiples
# plus the 25 ms window's extra 15 ms), so its decision is not delayed.
STEP_OFFSET = 240

try:  # the lattice module is optional here: N-best lists otherwise
  from asr.decoding import lattice as lattice_lib
except ImportError:  # pragma: no cover
  lattice_lib = None


def _words(nbest: list[dict]) -> str:
  """The best hypothesis as words (a trailing word-boundary piece decodes to
  a trailing space, which must not count as a revision)."""
  return " ".join(nbest[0]["text"].split()) if nbest else ""


class StreamSession:
  """B concurrent device streams with end-pointing.

  Args:
    rec: an :class:`asr.inference.Recognizer`.
    endpointer: "learned" (needs ``eoq``) or "rule" (sherpa-onnx rules).
    eoq: a trained :class:`asr.endpointing.Eoq` (its two thresholds).
    num_streams: B.
    beam: beam size.
    phrases: per-stream biasing phrase lists (or None).
    nbest: hypotheses kept in lattices.
    max_utterance_s: forced final end-point (rule 3).
    no_speech_s: final end-point when nothing was decoded for this long (rule 1).
  """

  def __init__(self, rec, endpointer: str = "learned", eoq: "endpointing.Eoq | None" = None,
               num_streams: int = 1, beam: int = 4,
               phrases: Sequence[Sequence[str]] | None = None, nbest: int = 4,
               max_utterance_s: float = 20.0, no_speech_s: float = 2.4, **recognizer_kw):
    if endpointer not in ("learned", "rule"):
      raise ValueError(f"endpointer must be 'learned' or 'rule', got {endpointer!r}")
    if endpointer == "learned" and eoq is None:
      raise ValueError("the learned end-pointer needs a trained Eoq (--endpointer_dir)")
    self.rec = rec
    self.kind = endpointer
    self.eoq = eoq
    self.step = eoq.step_samples if (endpointer == "learned") else STEP
    self.b = num_streams
    self.nbest = nbest
    self.sr = streaming.StreamingRecognizer(rec, num_streams, beam, phrases, **recognizer_kw)
    rules = endpointing.SHERPA_RULES
    if endpointer == "learned":  # backstops only: no speech, maximum length
      rules = (rules[0], rules[2])
    rules = tuple(endpointing.EndpointRule(r.must_contain_nonsilence,
                                           no_speech_s if i == 0 else r.min_trailing_silence,
                                           max_utterance_s if r.min_utterance_length else 0.0)
                  for i, r in enumerate(rules))
    self.rules = endpointing.RuleEndpointer(rules)
    self.max_utterance_s = max_utterance_s
    self.eoq_streams = [endpointing.EoqStream(eoq) if eoq is not None else None
                        for _ in range(self.b)]
    self.received = np.zeros(self.b, np.int64)  # samples consumed
    self.pending = [np.zeros(0, np.float32) for _ in range(self.b)]
    self.partial_text = [""] * self.b
    self.speculative: list[dict | None] = [None] * self.b
    self.final: list[dict | None] = [None] * self.b
    self.final_run = [0] * self.b  # consecutive frames with P >= final (hold)
    # Stability gate of the speculative end-point: armed once P >= speculative;
    # the last speculative text peeked and how many steps it has held.
    self.spec_armed = [False] * self.b
    self.spec_prev: list[str | None] = [None] * self.b
    self.spec_run = [0] * self.b
    self.ignored_samples = np.zeros(self.b, np.int64)

  # --- input ----------------------------------------------------------------

  def accept_prefix(self, samples: np.ndarray, stream: int = 0):
    """The audio before the request (wake-word segment): CMVN statistics,
    and the stream context of models trained with it (``accept_wake``)."""
    self.sr.accept_wake(samples, stream)
    if self.eoq is not None:
      x = streaming.StreamingRecognizer._clean(samples)  # pylint: disable=protected-access
      self.eoq_streams[stream] = endpointing.EoqStream(self.eoq, x)

  def accept_waveform(self, samples: np.ndarray, stream: int = 0) -> list[dict]:
    """Consumes audio; returns the events it caused (possibly none)."""
    x = streaming.StreamingRecognizer._clean(samples)  # pylint: disable=protected-access
    if self.final[stream] is not None:
      self.ignored_samples[stream] += len(x)
      return []
    buf = np.concatenate([self.pending[stream], x])
    events = []
    while self.final[stream] is None:
      need = self.step - (self.received[stream] - STEP_OFFSET) % self.step
      if len(buf) < need:
        break
      events += self._step(stream, buf[:need])
      buf = buf[need:]
    if self.final[stream] is not None:
      self.ignored_samples[stream] += len(buf)
      buf = buf[:0]
    self.pending[stream] = buf
    return events

  def finalize(self, stream: int = 0) -> list[dict]:
    """End of audio: decodes what is pending and emits the final end-point
    (if none has fired yet)."""
    if self.final[stream] is not None:
      return []
    events = []
    if len(self.pending[stream]):
      events += self._step(stream, self.pending[stream], flush=True)
      self.pending[stream] = self.pending[stream][:0]
    if self.final[stream] is None:
      events.append(self._final(stream, "end_of_audio", None))
    return events

  # --- protocol -------------------------------------------------------------

  def _t(self, s: int) -> float:
    return float(self.received[s]) / endpointing.SR

  def _step(self, s: int, x: np.ndarray, flush: bool = False) -> list[dict]:
    self.received[s] += len(x)
    self.sr.accept_waveform(x, s)
    events = []
    text = self.sr.partial(s)
    if text != self.partial_text[s]:
      self.partial_text[s] = text
      events.append({"event": "partial", "stream": s, "t": self._t(s), "text": text})
    if self.kind == "learned":
      ps = [p for _, p in self.eoq_streams[s].push(x, flush=flush)]
      if self.speculative[s] is None and ps:  # before this step's final check
        ev = self._maybe_speculate(s, max(ps))
        if ev is not None:
          events.append(ev)
      for p in ps:
        self.final_run[s] = self.final_run[s] + 1 if p >= self.eoq.final else 0
        if self.eoq.final_fires(self.final_run[s]):
          events.append(self._final(s, "eoq", p))
          return events
    hyps = self.sr.search.hyps[s]
    times = hyps[0].times if hyps else ()
    fs = self.sr.frame_seconds
    last = (times[-1] + 1) * fs if times else None
    decoded = self.sr.decoded_seconds(s)
    rule = self.rules.check(decoded, last)
    if rule is None and self._t(s) >= self.max_utterance_s:
      rule = "max_length"
    if rule is not None:
      if self.kind == "learned":  # backstop names
        rule = {"rule1": "no_speech", "rule2": "max_length"}.get(rule, rule)
      events.append(self._final(s, rule, None))
    return events

  def _lattice(self, nbest: list[dict]) -> dict:
    nbest = nbest[:self.nbest]
    if lattice_lib is not None:
      return lattice_lib.build_lattice(nbest, self.rec.tokenizer,
                                       self.sr.frame_seconds).to_dict()
    return {"nbest": [{"text": h["text"], "score": h["score"]} for h in nbest]}

  def _maybe_speculate(self, s: int, p: float) -> dict | None:
    """One step of the speculative end-pointer: arms at P >= speculative,
    then fires once the peeked result has held ``stable_frames`` steps and,
    with a completion gate, the LM finds it complete (P(</s>) >= min_completion)."""
    if p >= self.eoq.speculative:
      self.spec_armed[s] = True
    if not self.spec_armed[s]:
      return None
    nbest = self.sr.peek(s, self.eoq.lookahead_frames)
    text = _words(nbest)
    self.spec_run[s] = self.spec_run[s] + 1 if text == self.spec_prev[s] else 0
    self.spec_prev[s] = text
    if self.spec_run[s] < self.eoq.stable_frames:
      return None
    if self.eoq.min_completion > 0 and self.eoq.completion([text])[0] < self.eoq.min_completion:
      return None
    return self._speculative(s, p, nbest)

  def _speculative(self, s: int, p: float, nbest: list[dict]) -> dict:
    ev = {"event": "speculative_endpoint", "stream": s, "t": self._t(s), "p": p,
          "text": _words(nbest), "lattice": self._lattice(nbest),
          "action": "start_downstream"}
    self.speculative[s] = ev
    return ev

  def _final(self, s: int, reason: str, p: float | None) -> dict:
    nbest = self.sr.finalize([s])[s]
    text = _words(nbest)
    ev = {"event": "final_endpoint", "stream": s, "t": self._t(s), "reason": reason,
          "text": text}
    if p is not None:
      ev["p"] = p
    spec = self.speculative[s]
    if spec is not None and spec["text"] == text:
      ev["action"] = "confirm"
    else:
      ev["action"] = "reset_downstream" if spec is not None else "start_downstream"
      ev["lattice"] = self._lattice(nbest)
    self.final[s] = ev
    return ev

  @property
  def done(self) -> bool:
    return all(f is not None for f in self.final)


def decode_whole_stream(rec, request: np.ndarray, prefix: np.ndarray | None = None,
                        beam: int = 4) -> str:
  """The recognizer's result on a whole request without end-pointing: what a
  :class:`StreamSession` finalizes at the end of the audio when no end-point
  fired. ``prefix`` (the wake-word segment) seeds the causal CMVN and, for
  stream-context models, the encoder context, as ``accept_prefix`` does."""
  sr = streaming.StreamingRecognizer(rec, 1, beam=beam)
  if prefix is not None and len(prefix):
    sr.accept_wake(prefix)
  sr.accept_waveform(request)
  return _words(sr.finalize()[0])


def simulate(sess: StreamSession, audios: Sequence[np.ndarray], chunk_ms: float = 40.0,
             realtime: bool = False, prefixes: Sequence[np.ndarray | None] | None = None,
             emit=None) -> list[dict]:
  """Feeds ``audios`` (one per stream, interleaved chunk by chunk as a device
  would) through a session, as fast as possible or in real time; every event
  gets ``wall_s`` (seconds since the start) and goes to ``emit`` if given.
  Streams end with ``finalize`` when their audio runs out. Returns all events."""
  import time  # pylint: disable=g-import-not-at-top
  if len(audios) != sess.b:
    raise ValueError(f"{len(audios)} audios for a session of {sess.b} streams")
  for s, p in enumerate(prefixes or []):
    if p is not None and len(p):
      sess.accept_prefix(p, s)
  step = max(1, int(round(chunk_ms * endpointing.SR / 1000)))
  out = []
  t0 = time.perf_counter()

  def put(evs):
    for e in evs:
      e["wall_s"] = round(time.perf_counter() - t0, 4)
      out.append(e)
      if emit is not None:
        emit(e)

  longest = max((len(a) for a in audios), default=0)
  for k in range(0, longest, step):
    if realtime:  # chunk k is available once its last sample has been "recorded"
      wait = t0 + min(k + step, longest) / endpointing.SR - time.perf_counter()
      if wait > 0:
        time.sleep(wait)
    for s, a in enumerate(audios):
      if k < len(a):
        put(sess.accept_waveform(a[k:k + step], s))
        if k + step >= len(a):
          put(sess.finalize(s))
  for s, a in enumerate(audios):
    if len(a) == 0:
      put(sess.finalize(s))
  return out


def revision_curve(rec, eoq: "endpointing.Eoq", examples: Sequence[dict], grid: Sequence[float],
                   after_end_s: float = 3.0, beam: int = 4, lookahead_frames: int = 0,
                   stable_frames: int = 0, min_completion: float = 0.0) -> dict:
  """One curve of :func:`revision_curves`: {threshold: stats} for one
  look-ahead and one gate."""
  point = (lookahead_frames, stable_frames, min_completion)
  return revision_curves(rec, eoq, examples, grid, after_end_s, beam, (lookahead_frames,),
                         ((stable_frames, min_completion),))[point]


def revision_curves(rec, eoq: "endpointing.Eoq", examples: Sequence[dict], grid: Sequence[float],
                    after_end_s: float = 3.0, beam: int = 4,
                    lookahead_grid: Sequence[int] = (0,),
                    gates: Sequence[tuple[int, float]] = ((0, 0.0),)) -> dict:
  """For each candidate speculative operating point (quiet look-ahead, gate,
  threshold): how often the speculative result would be revised, and how
  much earlier than the final end-point it fires, measured through the
  recognizer on corpus streams with ``wake_end`` and ``speech_end``, exactly
  as :class:`StreamSession` steps (one end-of-query frame each), the speculative end-point
  armed at the first step with P >= threshold, firing at the first step from
  then on whose peeked result (``lookahead_frames`` of quiet padding) has
  held ``stable`` more steps and whose completion P(</s> | result) under
  ``eoq.completion`` is at least ``min_completion`` (a gate is the pair
  (stable, min_completion)); the final end-point (with its hold) ends the
  stream. One recognizer pass per stream serves every point: from the lowest
  threshold's arming on, every step peeks once per look-ahead.

  Returns {(lookahead, stable, min_completion): {threshold: {"revised_rate",
  "advance_median_s", "latency_median_s", "fired_rate"}}}: the revised share
  among the streams whose speculative end-point fired (as
  ``benchmarks.endpointing`` counts it), the medians over all streams. A
  point at or above the final threshold (without a hold) coincides with the
  final result (fired, not revised, no advance); a stream whose gate stays
  shut until the final end-point does not speculate (no advance, not in the
  revised share).
  """
  coincides = lambda g: not endpointing.speculates_earlier(g, eoq.final, eoq.final_hold_frames)
  live = [g for g in grid if not coincides(g)]
  lowest = min(live) if live else None
  rows = []
  for ex in examples:
    audio = endpointing.extend_stream(ex, after_end_s)
    w = int(ex["wake_end"] * endpointing.SR)
    end = ex["speech_end"] - w / endpointing.SR
    sr = streaming.StreamingRecognizer(rec, 1, beam=beam)
    sr.accept_wake(audio[:w])
    clean = streaming.StreamingRecognizer._clean  # pylint: disable=protected-access
    es = endpointing.EoqStream(eoq, clean(audio[:w]))
    req = clean(audio[w:])
    steps = []  # (t, max P of the step, {lookahead: text} once armed, else None)
    final, pos, run, armed = None, 0, 0, False
    step = eoq.step_samples
    while pos < len(req) and final is None:
      x = req[pos:pos + step - (pos - STEP_OFFSET) % step]
      pos += len(x)
      sr.accept_waveform(x)
      ps = [p for _, p in es.push(x)]
      if ps:
        armed = armed or (lowest is not None and max(ps) >= lowest)
        texts = ({la: _words(sr.peek(0, la)) for la in lookahead_grid} if armed else None)
        steps.append((pos / endpointing.SR, max(ps), texts))
      for p in ps:
        run = run + 1 if p >= eoq.final else 0
        if eoq.final_fires(run):
          final = (pos / endpointing.SR, _words(sr.finalize()[0]))
          break
    if final is None:
      final = (pos / endpointing.SR, _words(sr.finalize()[0]))
    rows.append((end, steps, final))
  comp = {}
  if any(c > 0 for _, c in gates):
    texts = sorted({t for _, steps, _ in rows for st in steps if st[2] for t in st[2].values()})
    comp = dict(zip(texts, eoq.completion(texts)))

  def fires(steps, g, la, k, c):
    """(t, text) of the speculative end-point at (g, la, k, c), or None."""
    arm = next((i for i, st in enumerate(steps) if st[1] >= g), None)
    if arm is None:
      return None
    for i in range(arm, len(steps)):
      text = steps[i][2][la]
      if (i - k >= arm and all(steps[j][2][la] == text for j in range(i - k, i))
          and (c <= 0 or comp[text] >= c)):
        return steps[i][0], text
    return None

  out = {}
  for la in lookahead_grid:
    for k, c in gates:
      curve = out[(la, k, c)] = {}
      for g in grid:
        revised, advance, latency, fired = [], [], [], []
        for end, steps, final in rows:
          spec = None if coincides(g) else fires(steps, g, la, k, c)
          t, text = final if spec is None else spec
          fired.append(coincides(g) or spec is not None)
          revised.append(text != final[1])
          advance.append(final[0] - t)
          latency.append(t - end)
        # As benchmarks.endpointing counts it: among the streams that speculated.
        curve[float(g)] = {"revised_rate": float(np.sum(revised)) / max(1, int(np.sum(fired))),
                           "advance_median_s": float(np.median(advance)),
                           "latency_median_s": float(np.median(latency)),
                           "fired_rate": float(np.mean(fired))}
  return out
