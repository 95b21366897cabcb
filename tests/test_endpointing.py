"""End-pointers and the device session protocol (asr/endpointing.py, asr/session.py)."""

import json

import jax
import numpy as np
import pytest

from asr import endpointing
from asr import session
from tests.test_streaming import _audio, make_rec


@pytest.fixture(scope="module")
def rec(tiny_tokenizer_path):
  return make_rec(tiny_tokenizer_path, cmvn="utterance")


@pytest.fixture(scope="module")
def silent_rec(tiny_tokenizer_path):
  """Blank always wins: nothing is ever decoded."""
  return make_rec(tiny_tokenizer_path, cmvn="utterance", blank_bias=100.0)


@pytest.fixture(scope="module")
def eoq():
  model = endpointing.EoqModel(hidden=8)
  params = model.init(jax.random.PRNGKey(1), np.zeros((1, 1, 81), np.float32))["params"]
  return endpointing.Eoq(model, params, speculative=0.0, final=1.1)  # final never fires


def _events(sess, audio, chunk, prefix=None):
  if prefix is not None:
    sess.accept_prefix(prefix)
  ev = []
  for i in range(0, len(audio), chunk):
    ev += sess.accept_waveform(audio[i:i + chunk])
  return ev + sess.finalize()


# --- rule end-pointer --------------------------------------------------------


def test_rule_endpointer_sherpa_defaults():
  r = endpointing.RuleEndpointer()
  assert r.check(2.3, None) is None
  assert r.check(2.4, None) == "rule1"  # 2.4 s with nothing decoded
  assert r.check(3.0, 1.9) is None  # 1.1 s after the last label
  assert r.check(3.1, 1.9) == "rule2"  # 1.2 s after some text
  assert r.check(20.0, 19.9) == "rule3"  # maximum utterance length


def test_rule_session_on_synthetic_silence(silent_rec):
  """Very long silence: the rule end-pointer ends the stream after 2.4 s of
  decoded audio with nothing decoded, with an empty result."""
  rng = np.random.default_rng(0)
  silence = rng.normal(0, 30, 16000 * 10).astype(np.int16)
  ev = _events(session.StreamSession(silent_rec, "rule"), silence, 1600)
  fin = [e for e in ev if e["event"] == "final_endpoint"]
  assert len(fin) == 1 and fin[0]["reason"] == "rule1" and fin[0]["text"] == ""
  assert 2.4 <= fin[0]["t"] <= 2.4 + 0.32 + 0.2  # + one chunk + the encoder's look-ahead
  assert fin[0]["action"] == "start_downstream"


def test_never_ending_stream_hits_max_length(rec, eoq):
  """A stream that never stops talking ends at max_utterance_s; later audio is ignored."""
  audio = np.tile(_audio(2, 1.0), 5)
  for kind in ("rule", "learned"):
    sess = session.StreamSession(rec, kind, eoq, max_utterance_s=2.0, no_speech_s=100.0)
    ev = _events(sess, audio, 3000)
    fin = [e for e in ev if e["event"] == "final_endpoint"]
    assert len(fin) == 1 and fin[0]["reason"] == "max_length"
    assert fin[0]["t"] == pytest.approx(2.0, abs=0.08)
    assert sess.ignored_samples[0] == len(audio) - round(fin[0]["t"] * 16000)
    assert sess.accept_waveform(audio[:1000]) == []


# --- learned end-of-query model ----------------------------------------------


def test_eoq_training_loss_falls(tiny_data_dir):
  traces = endpointing._load_traces(  # pylint: disable=protected-access
      "tfds:voice_assistant/tiny:train", tiny_data_dir, 24, 1.0, 80, 32)
  assert traces and all(len(f) == len(t) for f, t, _ in traces)
  f, t, end = traces[0]
  y = endpointing.labels_for(t, end)
  assert y[0] == 0 and y[-1] == 1 and np.all(np.diff(y) >= 0)
  _, _, losses = endpointing.train_on_traces(traces, hidden=16, steps=60, batch_size=8,
                                             learning_rate=1e-2, log_every=0)
  assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])


@pytest.mark.parametrize("pool", [8, 4])
def test_eoq_stream_equals_offline(eoq, pool):
  import dataclasses
  eoq = dataclasses.replace(eoq, pool=pool)
  prefix, audio = _audio(3, 0.6), _audio(4, 2.3)
  off = eoq.probs(endpointing.stream_features(audio, endpointing.features_lib.log_mel(prefix),
                                              pool=pool))
  assert len(off) == (len(audio) - 240) // 160 // pool  # 10-ms frames // pool
  s = endpointing.EoqStream(eoq, prefix)
  got = []
  for i in range(0, len(audio), 777):
    got += s.push(audio[i:i + 777])
  t, p = zip(*got)
  np.testing.assert_allclose(p, off[:len(p)], rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(t, endpointing.frame_times(len(off), pool)[:len(t)])
  np.testing.assert_allclose(np.diff(t), pool * 0.01, atol=1e-9)
  assert len(p) == len(off)


def _sigmoid_traces(n, max_delay, width):
  """n synthetic (times, P(ended), speech_end) traces: P rises as a sigmoid of
  the given width, centred 0..max_delay s after the end of speech."""
  rng = np.random.default_rng(0)
  traces = []
  for _ in range(n):
    end = rng.uniform(1, 2)
    t = endpointing.frame_times(60)
    p = 1 / (1 + np.exp(-(t - end - rng.uniform(0.0, max_delay)) / width))
    traces.append((t, p, end))
  return traces


def test_tune_thresholds_meets_the_budgets():
  traces = _sigmoid_traces(200, 0.6, 0.08)
  th = endpointing.tune_thresholds(traces, max_final_early=0.01, max_speculative_early=0.1)
  assert th["speculative"] < th["final"]
  assert th["final_stats"]["early_rate"] <= 0.01
  assert th["speculative_stats"]["early_rate"] <= 0.1


def test_first_crossing_with_a_hold():
  t = np.arange(6) * 0.08
  p = np.array([0.1, 0.99, 0.2, 0.99, 0.99, 0.99])
  assert endpointing.first_crossing(t, p, 0.9) == pytest.approx(0.08)
  assert endpointing.first_crossing(t, p, 0.9, hold=1) == pytest.approx(0.32)
  assert endpointing.first_crossing(t, p, 0.9, hold=2) == pytest.approx(0.40)
  assert endpointing.first_crossing(t, p, 0.9, hold=3) is None


def test_held_final_delays_the_final_only():
  traces = _sigmoid_traces(100, 0.3, 0.02)  # a fast rise
  free = endpointing.tune_thresholds(traces, 0.01, 0.1, target_advance_s=0.2)
  held = endpointing.tune_thresholds(traces, 0.01, 0.1, target_advance_s=0.2, final_hold_frames=3)
  assert held["final"] == free["final"] and held["final_hold_frames"] == 3
  # Three more 80 ms frames above the threshold: 240 ms later (the rise is monotone).
  assert held["final_stats"]["median_s"] == pytest.approx(free["final_stats"]["median_s"] + 0.24)
  assert held["advance_median_s"] >= 0.2 > free["advance_median_s"]


def test_eoq_save_load_roundtrip(eoq, tmp_path):
  eoq.save(str(tmp_path))
  back = endpointing.Eoq.load(str(tmp_path))
  x = np.random.default_rng(0).normal(size=(10, 81)).astype(np.float32)
  np.testing.assert_allclose(back.probs(x), eoq.probs(x), rtol=1e-6)
  assert (back.speculative, back.final) == (eoq.speculative, eoq.final)
  import dataclasses
  dataclasses.replace(eoq, lookahead_frames=16, final_hold_frames=2, stable_frames=3,
                      completion_lm="workdirs/lm", min_completion=0.2).save(str(tmp_path))
  back = endpointing.Eoq.load(str(tmp_path))
  assert (back.lookahead_frames, back.final_hold_frames, back.stable_frames) == (16, 2, 3)
  assert (back.completion_lm, back.min_completion) == ("workdirs/lm", 0.2)
  assert back.pool == 8  # the default, and what models saved before the field load as
  dataclasses.replace(eoq, pool=4).save(str(tmp_path))
  back = endpointing.Eoq.load(str(tmp_path))
  assert back.pool == 4 and back.frame_s == pytest.approx(0.04) and back.step_samples == 640


# --- protocol ----------------------------------------------------------------


def _check_protocol(ev):
  kinds = [e["event"] for e in ev]
  assert kinds.count("final_endpoint") == 1 and kinds[-1] == "final_endpoint"
  assert kinds.count("speculative_endpoint") <= 1
  ts = [e["t"] for e in ev]
  assert ts == sorted(ts)
  fin = ev[-1]
  spec = [e for e in ev if e["event"] == "speculative_endpoint"]
  if spec:
    assert kinds.index("speculative_endpoint") < kinds.index("final_endpoint")
    assert spec[0]["action"] == "start_downstream" and "lattice" in spec[0]
    if fin["action"] == "confirm":
      assert fin["text"] == spec[0]["text"] and "lattice" not in fin
    else:
      assert fin["action"] == "reset_downstream" and fin["text"] != spec[0]["text"]
      assert "lattice" in fin
  else:
    assert fin["action"] == "start_downstream" and "lattice" in fin
  json.dumps(ev)  # every event is JSON


def test_protocol_order_and_revision(rec, eoq):
  # speculative fires on the first frame (nothing decoded yet); the final
  # end-point comes at the end of the audio with the full text -> revised.
  ev = _events(session.StreamSession(rec, "learned", eoq), _audio(5, 2.0), 1000, _audio(6, 0.5))
  _check_protocol(ev)
  spec = [e for e in ev if e["event"] == "speculative_endpoint"][0]
  assert spec["t"] == pytest.approx(endpointing.frame_times(1)[0])  # 95 ms
  assert ev[-1]["reason"] == "end_of_audio"
  assert (ev[-1]["action"] == "reset_downstream") == (ev[-1]["text"] != spec["text"])


def test_protocol_confirm(rec, eoq):
  import dataclasses
  audio = _audio(5, 2.0)
  probe = endpointing.EoqStream(eoq)
  p = np.array([x[1] for x in probe.push(audio)])
  e2 = dataclasses.replace(eoq, speculative=float(p.max()), final=float(p.max()))
  ev = _events(session.StreamSession(rec, "learned", e2), audio, 640)
  _check_protocol(ev)
  assert ev[-1]["reason"] == "eoq" and ev[-1]["action"] == "confirm"
  assert ev[-2]["event"] == "speculative_endpoint" and ev[-2]["t"] == ev[-1]["t"]
  # Held final: P reaches its maximum on one frame only, so a 1-frame hold
  # never fires the final end-point; the speculative one still fires.
  held = _events(session.StreamSession(rec, "learned", dataclasses.replace(e2, final_hold_frames=1)),
                 audio, 640)
  _check_protocol(held)
  assert held[-1]["reason"] == "end_of_audio"
  assert any(e["event"] == "speculative_endpoint" for e in held)


def test_stability_gate_waits_for_a_settled_result(rec, silent_rec, eoq):
  """stable_frames = k: the speculative end-point fires once its peeked
  result has held k more 80 ms steps after the crossing. Nothing is ever
  decoded by silent_rec, so its result holds from the start: exactly k steps
  later. With rec the result it fires with equals the previous k peeks."""
  import dataclasses
  audio, prefix = _audio(5, 2.0), _audio(6, 0.5)
  times = {}
  for k in (0, 1, 3):
    ev = _events(session.StreamSession(silent_rec, "learned",
                                       dataclasses.replace(eoq, stable_frames=k)),
                 audio, 1000, prefix)
    _check_protocol(ev)
    times[k] = [e["t"] for e in ev if e["event"] == "speculative_endpoint"][0]
  assert times[1] - times[0] == pytest.approx(0.08, abs=1e-6)
  assert times[3] - times[0] == pytest.approx(0.24, abs=1e-6)
  # rec: every step's peek recorded by hand, the gate fires at the first run of k+1 equal texts.
  k = 1
  sess = session.StreamSession(rec, "learned", dataclasses.replace(eoq, stable_frames=k))
  sess.accept_prefix(prefix)
  peeks, fired = [], None
  for i in range(0, len(audio), session.STEP):
    before = sess.speculative[0]
    ev = sess.accept_waveform(audio[i:i + session.STEP])
    if before is None:
      peeks.append(sess.spec_prev[0])
    spec = [e for e in ev if e["event"] == "speculative_endpoint"]
    if spec and fired is None:
      fired = (len(peeks) - 1, spec[0]["text"])
  first = next((i for i in range(k, len(peeks))
                if peeks[i] is not None and peeks[i - 1] == peeks[i]), None)
  if fired is None:
    assert first is None
  else:
    assert fired == (first, peeks[first])


@pytest.mark.parametrize("pool", [8, 4])
def test_events_do_not_depend_on_chunking(rec, eoq, pool):
  """Events are decided on the end-of-query frame grid (pool x 10 ms steps
  ending 15 ms into the next frame), whatever the caller's chunk size."""
  import dataclasses
  eoq = dataclasses.replace(eoq, pool=pool)
  audio = _audio(11, 2.5)
  runs = []
  for chunk in (160, 1234, 40000):
    ev = _events(session.StreamSession(rec, "learned", eoq), audio, chunk, _audio(12, 0.4))
    runs.append([{k: v for k, v in e.items() if k != "p"} for e in ev])
  assert runs[0] == runs[1] == runs[2]
  for e in runs[0][:-1]:  # all but the end-of-audio final sit on the grid
    k = (e["t"] - 0.015) / (pool * 0.01)
    assert k == pytest.approx(round(k), abs=1e-6), e
  spec = [e for e in runs[0] if e["event"] == "speculative_endpoint"][0]
  assert spec["t"] == pytest.approx(endpointing.frame_times(1, pool)[0])  # first frame


def test_bad_input_is_defined(rec, eoq):
  sess = session.StreamSession(rec, "learned", eoq, num_streams=2)
  assert sess.accept_waveform(np.zeros(0, np.int16), 0) == []  # empty chunk
  x = _audio(13, 1.5).astype(np.float32) / 32768
  x[100:900] = np.nan
  x[2000:3000] = 7.0  # clipped
  x[3000:3100] = -np.inf
  ev = sess.accept_waveform(x, 0) + sess.accept_waveform(np.zeros(0, np.float32), 1)
  ev += sess.finalize(0) + sess.finalize(1)
  assert [e for e in ev if e["event"] == "final_endpoint"][0]["stream"] == 0
  assert sess.done
  for e in ev:
    assert all(np.isfinite(v) for v in (e["t"], e.get("p", 0.0)))
  # a stream with no audio at all ends with an empty result
  assert ev[-1]["stream"] == 1 and ev[-1]["text"] == ""


def test_simulate_concurrent_streams_match_single(rec, eoq):
  audios = [_audio(14, 1.3), _audio(15, 2.1)]
  both = session.simulate(session.StreamSession(rec, "rule", num_streams=2), audios, 40.0)
  for s, a in enumerate(audios):
    one = session.simulate(session.StreamSession(rec, "rule"), [a], 40.0)
    mine = [e for e in both if e["stream"] == s]
    strip = lambda ev: [{k: v for k, v in e.items() if k not in ("stream", "wall_s")} for e in ev]
    assert strip(mine) == strip(one)


def test_revision_curve_and_choice(rec, eoq):
  import dataclasses
  e2 = dataclasses.replace(eoq, final=0.99)
  exs = [{"audio": np.concatenate([_audio(20 + i, 0.5), _audio(30 + i, 1.5)]), "wake_end": 0.5,
          "speech_end": 1.7} for i in range(2)]
  for la in (0, 32):
    curve = session.revision_curve(rec, e2, exs, [0.0, 0.99, 1.0], after_end_s=0.5, beam=2,
                                   lookahead_frames=la)
    for g in (0.99, 1.0):  # at or above the final threshold: the final result itself
      assert curve[g]["revised_rate"] == 0 and curve[g]["advance_median_s"] == 0
    assert curve[0.0]["fired_rate"] == 1 and curve[0.0]["advance_median_s"] > 0
  c = lambda r, a=0.16: {"revised_rate": r, "advance_median_s": a}
  choose = lambda curve, final, budget, hold=0: endpointing.choose_operating_point(
      {(0, 0, 0.0): curve}, final, budget, hold)[3]
  fake = {0.1: c(0.5, 0.4), 0.5: c(0.05, 0.24), 0.7: c(0.0)}
  assert choose(fake, 0.9, 0.08) == 0.5  # the largest lead within budget
  assert choose(fake, 0.9, 0.0) == 0.7
  assert choose({0.5: c(0.05), 0.7: c(0.0)}, 0.9, 0.08) == 0.7  # equal leads: fewer revisions
  assert choose({0.1: c(0.5)}, 0.9, 0.08) == 0.9  # none within budget: the final itself
  # A held final: the final threshold itself is a speculative candidate.
  assert choose({0.9: c(0.0)}, 0.9, 0.0) == 0.9 and choose({0.9: c(0.0)}, 0.9, 0.0, 2) == 0.9
  assert endpointing.choose_operating_point({(0, 0, 0.0): {0.9: c(0.0)}}, 0.9, 0.0, 2) == (0, 0, 0.0, 0.9)
  # P >= 0 on every frame: the final fires on the third, the equal speculative
  # threshold on the first, two 80 ms steps earlier.
  held = dataclasses.replace(eoq, final=0.0, final_hold_frames=2)
  curve = session.revision_curve(rec, held, exs, [0.0], after_end_s=0.5, beam=2)
  assert curve[0.0]["fired_rate"] == 1
  assert curve[0.0]["advance_median_s"] == pytest.approx(0.16, abs=1e-3)


def _fake_completion(monkeypatch):
  """A stand-in completion LM: P(</s>) 0.9 after an even number of words, else 0.01."""
  class Fake:
    def eos_logprob(self, texts):
      return np.log([0.9 if len(t.split()) % 2 == 0 else 0.01 for t in texts])
  monkeypatch.setattr(endpointing, "completion_model", lambda workdir: Fake())


@pytest.mark.parametrize("pool", [8, 4])
def test_revision_curves_match_the_session(rec, eoq, monkeypatch, pool):
  """Every (look-ahead, gate) point of revision_curves gives the speculative
  time and text that a StreamSession with those settings gives (80 and 40 ms
  end-of-query frames)."""
  import dataclasses
  _fake_completion(monkeypatch)
  e2 = dataclasses.replace(eoq, speculative=0.0, final=1.1, completion_lm="fake", pool=pool)
  exs = [{"audio": np.concatenate([_audio(40 + i, 0.5), _audio(50 + i, 1.2 + 0.3 * i)]),
          "wake_end": 0.5, "speech_end": 1.4} for i in range(3)]
  gates = [(0, 0.0), (1, 0.0), (2, 0.0), (0, 0.5), (1, 0.5)]
  curves = session.revision_curves(rec, e2, exs, [0.0], after_end_s=0.3, beam=2,
                                   lookahead_grid=(0, 16), gates=gates)
  assert set(curves) == {(la, k, c) for la in (0, 16) for k, c in gates}
  for (la, k, c), curve in curves.items():
    ep = dataclasses.replace(e2, lookahead_frames=la, stable_frames=k, min_completion=c)
    advance, revised, fired = [], [], []
    for ex in exs:
      audio = endpointing.extend_stream(ex, 0.3)
      w = int(ex["wake_end"] * endpointing.SR)
      ev = _events(session.StreamSession(rec, "learned", ep, beam=2), audio[w:], 4000, audio[:w])
      spec = [e for e in ev if e["event"] == "speculative_endpoint"]
      t = spec[0]["t"] if spec else ev[-1]["t"]
      if spec and c > 0:
        assert len(spec[0]["text"].split()) % 2 == 0  # the gate let only "complete" results through
      advance.append(ev[-1]["t"] - t)
      revised.append(ev[-1]["action"] == "reset_downstream")
      fired.append(bool(spec))
    assert curve[0.0]["advance_median_s"] == pytest.approx(float(np.median(advance)), abs=1e-6)
    assert curve[0.0]["fired_rate"] == pytest.approx(np.mean(fired))
    # the revised share among the streams that speculated, as benchmarks.endpointing counts it
    assert curve[0.0]["revised_rate"] == pytest.approx(sum(revised) / max(1, sum(fired)))
  assert curves[(0, 0, 0.0)] == session.revision_curve(rec, e2, exs, [0.0], 0.3, 2)


def test_choose_operating_point():
  c = lambda r, a: {"revised_rate": r, "advance_median_s": a}
  curves = {(0, 0, 0.0): {0.5: c(0.2, 0.3), 0.9: c(0.05, 0.16)},
            (0, 1, 0.0): {0.5: c(0.06, 0.24), 0.9: c(0.02, 0.08)},
            (16, 0, 0.0): {0.5: c(0.07, 0.24), 0.9: c(0.01, 0.16)},
            (16, 1, 0.0): {0.5: c(0.0, 0.08), 0.9: c(0.0, 0.0)}}
  # 0.24 s of advance within 8 %: (0, 1, 0.5) and (16, 0, 0.5); fewer revisions wins.
  assert endpointing.choose_operating_point(curves, 0.99, 0.08) == (0, 1, 0.0, 0.5)
  noisy = {p: {g: c(0.2 if (p, g) == ((0, 1, 0.0), 0.5) else 0.05, 0) for g in cv}
           for p, cv in curves.items()}
  assert endpointing.choose_operating_point(curves, 0.99, 0.08, 0, noisy, 0.1) == (16, 0, 0.0, 0.5)
  assert endpointing.choose_operating_point(curves, 0.99, 0.0) == (16, 1, 0.0, 0.5)
  # Nothing below the final threshold 0.5: no speculation ahead of the final.
  assert endpointing.choose_operating_point(curves, 0.5, 0.08) == (0, 0, 0.0, 0.5)


def test_retune_speculative_picks_threshold_and_lookahead(rec, eoq, tiny_data_dir, tmp_path,
                                                          monkeypatch):
  """retune_speculative: one revision curve per look-ahead, the chosen pair
  written to endpointer.json and read back by Eoq.load."""
  import dataclasses
  import importlib
  # The completion-gate variant only names its LM.
  lm_config = importlib.import_module("experiments.endpointer_lm").get_config()
  assert lm_config.tune.completion_lm and lm_config.tune.min_completion[0] == 0.0
  config = importlib.import_module("experiments.endpointer").get_config()
  config.data.data_dir = tiny_data_dir
  config.data.validation = "tfds:voice_assistant/tiny:validation"
  config.data.after_end_s = 0.5
  config.tune.lookahead_frames = (0, 16)
  config.tune.stable_frames = (0, 1)
  config.tune.talker_validation = True
  config.tune.completion_lm = "fake"
  config.tune.min_completion = (0.0, 0.5)
  _fake_completion(monkeypatch)
  dataclasses.replace(eoq, final=0.99).save(str(tmp_path))
  tuned = endpointing.retune_speculative(config, str(tmp_path), rec, limit=2)
  points = {f"lookahead={la},stable={k},completion={c:g}"
            for la in (0, 16) for k in (0, 1) for c in (0.0, 0.5)}
  assert set(tuned["curves"]) == points and set(tuned["talker_curves"]) == points
  assert tuned["lookahead_frames"] in (0, 16) and tuned["stable_frames"] in (0, 1)
  assert tuned["talker_streams"] == 2
  from asr.data import sources  # the talker streams: the same requests, another voice mixed in
  src = sources.open_source(config.data.validation, tiny_data_dir)
  for ex, mixed in zip([src[0], src[1]], endpointing.talker_streams(src, 2)):
    assert mixed["id"] == ex["id"] and mixed["speech_end"] == ex["speech_end"]
    assert len(mixed["audio"]) == len(ex["audio"]) and np.any(mixed["audio"] != ex["audio"])
  back = endpointing.Eoq.load(str(tmp_path))
  assert back.lookahead_frames == tuned["lookahead_frames"]
  assert back.stable_frames == tuned["stable_frames"]
  assert back.min_completion == tuned["min_completion"]
  assert back.completion_lm == ("fake" if tuned["min_completion"] > 0 else "")
  assert back.speculative == tuned["chosen"] <= 0.99
  with open(tmp_path / "endpointer.json") as f:
    assert json.load(f)["thresholds"]["acoustic_speculative"] == 0.0


def test_decode_whole_stream_is_the_unendpointed_session_result(rec, eoq):
  """session.decode_whole_stream (the benchmark's cut-off reference) gives
  what a session finalizes at the end of the audio when no end-point fired."""
  audio, prefix = _audio(5, 2.0), _audio(6, 0.5)
  ev = _events(session.StreamSession(rec, "learned", eoq), audio, 1000, prefix)
  assert ev[-1]["reason"] == "end_of_audio"
  assert session.decode_whole_stream(rec, audio, prefix) == ev[-1]["text"]
  assert ev[-1]["text"]  # the tiny model decodes something here
