"""Streaming recognizer equals offline decoding; defined behaviour on bad chunks."""

import jax
import numpy as np
import pytest

from asr import inference
from asr import streaming
from asr.data import cmvn
from asr.data import pipeline
from asr.evaluation import evaluate
from asr.models import encoder as enc_lib
from asr.models import transducer
from asr.biasing import attention as bias_lib


def make_rec(tiny_tokenizer_path, cmvn="global", blank_bias=0.0, chunk_size=2, ctc_head=False):
  """A random tiny CATT transducer (joint x6 so the search is non-trivial)."""
  from asr.data import tokenizer
  import ml_collections
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(num_layers=2, dim=32, num_heads=2, ffn_mult=2, conv_kernel=5,
                                    subsample_channels=8, chunk_size=chunk_size, left_context=6,
                                    dropout=0.0),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=16, dropout=0.0),
      joint_dim=24, vocab_size=tok.vocab_size,
      biasing=bias_lib.BiasingConfig(enabled=True, embed_dim=8, dim=16, num_heads=2, dropout=0.0),
      ctc_head=ctc_head)
  params = transducer.init_params(cfg, jax.random.PRNGKey(0))
  params["joint_net"]["out"]["kernel"] = params["joint_net"]["out"]["kernel"] * 6.0
  if blank_bias:
    params["joint_net"]["out"]["bias"] = params["joint_net"]["out"]["bias"].at[0].add(blank_bias)
  config = ml_collections.ConfigDict({"data": {"num_mel_bins": 80, "cmvn": cmvn},
                                      "model": {"encoder": {"subsample_factor": 8}}})
  norm = (np.full(80, -4.0, np.float32), np.full(80, 3.0, np.float32))
  if cmvn == "utterance":  # features are already per-utterance normalized
    norm = (np.zeros(80, np.float32), np.ones(80, np.float32))
  return inference.Recognizer(config, transducer.Transducer(cfg), params, norm, tok, 0)


@pytest.fixture(scope="module")
def rec(tiny_tokenizer_path):
  return make_rec(tiny_tokenizer_path)


@pytest.fixture(scope="module")
def rec_utt(tiny_tokenizer_path):
  return make_rec(tiny_tokenizer_path, cmvn="utterance")


def _audio(seed, seconds):
  rng = np.random.default_rng(seed)
  t = np.arange(int(16000 * seconds)) / 16000
  x = 0.3 * np.sin(2 * np.pi * (200 + 300 * np.sin(t * 3)) * t) * (1 + np.sin(t * 7))
  return (x * 12000 + rng.normal(0, 300, len(t))).astype(np.int16)


def _offline(rec, audio, phrases, beam=3):
  utt = pipeline._prepare_fn(None, None, 80, 11)({"id": "x", "audio": audio, "text": ""})  # pylint: disable=protected-access
  res = evaluate.decode_utterances(rec.model, rec.params, rec.norm, [utt], rec.tokenizer, beam=beam,
                                   lists=[phrases], nbest=3)
  return res[0]


@pytest.mark.parametrize("chunk_samples", [160, 1234, 7000])
def test_streaming_equals_offline(rec, chunk_samples):
  audio = _audio(0, 2.3)
  phrases = ["zoe muller", "reading lamp", "jan de vries"]
  off = _offline(rec, audio, phrases)
  sr = streaming.StreamingRecognizer(rec, 1, beam=3, phrases=[phrases], shallow=False)
  for i in range(0, len(audio), chunk_samples):
    sr.accept_waveform(audio[i:i + chunk_samples])
  nbest = sr.finalize()[0]
  assert nbest[0]["tokens"] == off["tokens"]
  # The encoders agree to ~2e-5 per frame (tests/models); the joint here is
  # scaled x6 to make the search non-trivial, so summed over the path the
  # float32 differences reach a few 1e-3 nats.
  assert nbest[0]["score"] == pytest.approx(off["score"], rel=5e-4, abs=1e-2)


def test_streaming_ctc_rescoring_equals_offline(tiny_tokenizer_path):
  """The CTC head over the streamed request frames rescores the final beam as
  offline decoding does: same N-best order, CTC scores and combined scores."""
  rec = make_rec(tiny_tokenizer_path, ctc_head=True)
  audio = _audio(3, 2.3)
  phrases = ["zoe muller", "reading lamp"]
  utt = pipeline._prepare_fn(None, None, 80, 11)({"id": "x", "audio": audio, "text": ""})  # pylint: disable=protected-access
  kw = dict(ctc_rescore_weight=0.8, ctc_rescore_bonus=0.5)
  off = evaluate.decode_utterances(rec.model, rec.params, rec.norm, [utt], rec.tokenizer, beam=3,
                                   lists=[phrases], nbest=3, **kw)[0]
  plain = evaluate.decode_utterances(rec.model, rec.params, rec.norm, [utt], rec.tokenizer,
                                     beam=3, lists=[phrases], nbest=3)[0]
  assert "ctc" in off["nbest"][0] and "ctc" not in plain["nbest"][0]
  sr = streaming.StreamingRecognizer(rec, 1, beam=3, phrases=[phrases], shallow=False, **kw)
  for i in range(0, len(audio), 1234):
    sr.accept_waveform(audio[i:i + 1234])
  nbest = sr.finalize()[0]
  assert [h["tokens"] for h in nbest] == [h["tokens"] for h in off["nbest"]]
  for h, o in zip(nbest, off["nbest"]):
    assert h["ctc"] == pytest.approx(o["ctc"], rel=1e-3, abs=2e-2)
    assert h["score"] == pytest.approx(o["score"], rel=1e-3, abs=2e-2)
  # Weight 0: the first pass alone, as offline.
  sr = streaming.StreamingRecognizer(rec, 1, beam=3, phrases=[phrases], shallow=False,
                                     ctc_rescore_weight=0.0)
  sr.accept_waveform(audio)
  assert [h["tokens"] for h in sr.finalize()[0]] == [h["tokens"] for h in plain["nbest"]]


def test_streaming_ctc_rescoring_needs_a_ctc_head(rec):
  with pytest.raises(ValueError, match="CTC head"):
    streaming.StreamingRecognizer(rec, 1, beam=3, ctc_rescore_weight=0.5)


def test_concurrent_streams_equal_single_streams(rec):
  audios = [_audio(1, 1.7), _audio(2, 2.9)]
  sr = streaming.StreamingRecognizer(rec, 2, beam=3)
  # interleave chunks of different sizes; stream 1 gets more audio later
  j = 0
  for i in range(0, 60000, 2000):
    sr.accept_waveform(audios[0][i:i + 2000], stream=0)
    sr.accept_waveform(audios[1][j:j + 3000], stream=1)
    sr.accept_waveform(audios[1][j + 3000:j + 3100], stream=1)
    j += 3100
  both = sr.finalize()
  for s, audio in enumerate(audios):
    one = streaming.StreamingRecognizer(rec, 1, beam=3)
    one.accept_waveform(audio)
    single = one.finalize()[0][0]
    assert single["tokens"] == both[s][0]["tokens"]
    assert single["times"] == both[s][0]["times"]  # label times are per stream


def test_bad_chunks_are_defined(rec):
  sr = streaming.StreamingRecognizer(rec, 1, beam=2)
  sr.accept_waveform(np.zeros(0, np.int16))  # empty chunk: no-op
  x = _audio(3, 1.0).astype(np.float32) / 32768
  x[100:200] = np.nan
  x[300:400] = 5.0  # clipped
  sr.accept_waveform(x)
  out = sr.finalize()
  assert np.isfinite(out[0][0]["score"])
  with pytest.raises(RuntimeError):
    sr.accept_waveform(x)  # stream already finalized
  # a stream shorter than one encoder frame still finalizes
  short = streaming.StreamingRecognizer(rec, 1, beam=2)
  short.accept_waveform(_audio(4, 0.05))
  assert short.finalize()[0][0]["tokens"] == []


def test_causal_cmvn_is_independent_of_chunking():
  rng = np.random.default_rng(0)
  prefix, feats = rng.normal(size=(45, 80)), rng.normal(size=(203, 80)) * 2 + 1
  for p in (prefix, None):
    ref = cmvn.causal_cmvn(feats, p, block=32)
    c = cmvn.CausalCmvn(p, 80, block=32)
    got, i = [], 0
    for n in (1, 7, 40, 3, 100, 52):
      got.append(c.push(feats[i:i + n]))
      i += n
    got.append(c.push(np.zeros((0, 80)), flush=True))
    np.testing.assert_allclose(np.concatenate(got), ref, rtol=1e-6, atol=1e-6)
    # block k uses only earlier frames: changing the future leaves it alone
    fut = feats.copy()
    fut[96:] += 10
    np.testing.assert_array_equal(cmvn.causal_cmvn(fut, p, 32)[:96], ref[:96])


@pytest.mark.parametrize("with_prefix", [True, False])
def test_streaming_equals_offline_causal_cmvn(rec_utt, with_prefix):
  """A per-utterance-CMVN model streams with the causal estimate and equals
  offline decoding that uses the same causal normalization."""
  prefix = _audio(7, 0.5) if with_prefix else np.zeros(0, np.int16)  # 8000 samples
  audio = _audio(8, 2.6)
  ex = {"id": "x", "audio": np.concatenate([prefix, audio]), "text": "",
        "wake_end": len(prefix) / 16000 if with_prefix else None}
  utt = pipeline._prepare_fn(None, None, 80, 11, "causal")(ex)  # pylint: disable=protected-access
  off = evaluate.decode_utterances(rec_utt.model, rec_utt.params, rec_utt.norm, [utt],
                                   rec_utt.tokenizer, beam=3, nbest=3)[0]
  for chunk in (333, 4000):
    sr = streaming.StreamingRecognizer(rec_utt, 1, beam=3)
    if with_prefix:
      sr.accept_prefix(prefix)
    for i in range(0, len(audio), chunk):
      sr.accept_waveform(audio[i:i + chunk])
    nbest = sr.finalize()[0]
    assert nbest[0]["tokens"] == off["tokens"]
    assert nbest[0]["score"] == pytest.approx(off["score"], rel=5e-4, abs=1e-2)


def test_causal_cmvn_differs_from_whole_utterance(rec_utt):
  """The causal estimate is not the training-time statistic (its WER cost is
  measured by benchmarks/streaming_speed.py)."""
  ex = {"id": "x", "audio": _audio(9, 2.0), "text": "", "wake_end": None}
  a = pipeline._prepare_fn(None, None, 80, 11, "utterance")(ex).feats  # pylint: disable=protected-access
  b = pipeline._prepare_fn(None, None, 80, 11, "causal")(ex).feats  # pylint: disable=protected-access
  assert a.shape == b.shape and not np.allclose(a, b, atol=1e-2)


def test_accept_prefix_must_come_first(rec_utt):
  sr = streaming.StreamingRecognizer(rec_utt, 1, beam=2)
  sr.accept_waveform(_audio(1, 0.2))
  with pytest.raises(RuntimeError, match="accept_prefix"):
    sr.accept_prefix(_audio(2, 0.5))


def test_peek_leaves_the_stream_unchanged(rec_utt):
  audio = _audio(10, 2.2)
  a = streaming.StreamingRecognizer(rec_utt, 1, beam=3)
  b = streaming.StreamingRecognizer(rec_utt, 1, beam=3)
  half = 17000
  a.accept_waveform(audio[:half])
  b.accept_waveform(audio[:half])
  peeked = a.peek()
  # peek == what finalize would give at that point
  c = streaming.StreamingRecognizer(rec_utt, 1, beam=3)
  c.accept_waveform(audio[:half])
  assert peeked[0]["tokens"] == c.finalize()[0][0]["tokens"]
  a.accept_waveform(audio[half:])
  b.accept_waveform(audio[half:])
  assert a.finalize()[0][0]["tokens"] == b.finalize()[0][0]["tokens"]


def test_lookahead_peek_pads_quiet_frames_and_leaves_the_stream_unchanged(rec_utt):
  audio = _audio(11, 2.2)
  a = streaming.StreamingRecognizer(rec_utt, 1, beam=3)
  b = streaming.StreamingRecognizer(rec_utt, 1, beam=3)
  half = 17000
  a.accept_waveform(audio[:half])
  b.accept_waveform(audio[:half])
  q = a.quiet[0]
  assert q is not None and q.shape == (a.num_bins,)
  # the quietest frame: no frame seen has a lower mean (model-input space)
  enc_before = int(a.enc_emitted[0])
  peeked = a.peek(0, lookahead_frames=64)
  assert int(a.enc_emitted[0]) == enc_before and a.quiet[0] is q
  # == finalize with the same padding on a copy
  c = streaming.StreamingRecognizer(rec_utt, 1, beam=3)
  c.accept_waveform(audio[:half])
  ref = c.finalize([0], lookahead_frames=64)[0]
  assert peeked[0]["tokens"] == ref[0]["tokens"]
  # the padding was decoded: more encoder frames than a plain finalize
  d = streaming.StreamingRecognizer(rec_utt, 1, beam=3)
  d.accept_waveform(audio[:half])
  d.finalize()
  assert int(c.enc_emitted[0]) >= int(d.enc_emitted[0]) + 64 // c.factor - 1
  a.accept_waveform(audio[half:])
  b.accept_waveform(audio[half:])
  assert a.finalize()[0][0]["tokens"] == b.finalize()[0][0]["tokens"]


def test_utterance_cmvn_model_with_other_modes_is_refused(tiny_tokenizer_path):
  r = make_rec(tiny_tokenizer_path)
  r.config.data.cmvn = "per-speaker"
  with pytest.raises(ValueError, match="cmvn"):
    streaming.StreamingRecognizer(r, 1)
