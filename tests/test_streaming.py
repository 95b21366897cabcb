"""Streaming recognizer equals offline decoding; defined behaviour on bad chunks."""

import jax
import numpy as np
import pytest

from asr import inference
from asr import streaming
from asr.data import pipeline
from asr.evaluation import evaluate
from asr.models import encoder as enc_lib
from asr.models import transducer
from asr.biasing import attention as bias_lib


@pytest.fixture(scope="module")
def rec(tiny_tokenizer_path):
  from asr.data import tokenizer
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(num_layers=2, dim=32, num_heads=2, ffn_mult=2, conv_kernel=5,
                                    subsample_channels=8, chunk_size=2, left_context=6, dropout=0.0),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=16, dropout=0.0),
      joint_dim=24, vocab_size=tok.vocab_size,
      biasing=bias_lib.BiasingConfig(enabled=True, embed_dim=8, dim=16, num_heads=2, dropout=0.0))
  params = transducer.init_params(cfg, jax.random.PRNGKey(0))
  params["joint_net"]["out"]["kernel"] = params["joint_net"]["out"]["kernel"] * 6.0
  import ml_collections
  config = ml_collections.ConfigDict({"data": {"num_mel_bins": 80},
                                      "model": {"encoder": {"subsample_factor": 8}}})
  norm = (np.full(80, -4.0, np.float32), np.full(80, 3.0, np.float32))
  return inference.Recognizer(config, transducer.Transducer(cfg), params, norm, tok, 0)


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
    assert one.finalize()[0][0]["tokens"] == both[s][0]["tokens"]


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
