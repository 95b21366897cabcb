"""The tiny corpus: splits, labels, name disjointness, audio sanity, determinism."""

import json

import numpy as np
import pytest

from asr.data import corpus
from asr.data import grammar
from asr.data import names
from asr.data import sources
from asr.data import voice_assistant


def _split(data_dir, split, **kw):
  return sources.open_source(f"tfds:voice_assistant/tiny:{split}", data_dir, **kw)


def _all(src):
  return [src[i] for i in range(len(src))]


def test_splits_exist_with_configured_sizes(tiny_data_dir):
  cfg = voice_assistant.CORPUS_CONFIGS["tiny"]
  total = 0
  for split in corpus.SPLITS:
    n = len(_split(tiny_data_dir, split))
    assert n == cfg.size(split), split
    total += n
  assert total <= 200


def test_entities_are_in_context_and_match_transcript(tiny_data_dir):
  n_entities = 0
  for split in ("train", "test", "validation"):
    for ex in _all(_split(tiny_data_dir, split)):
      words = ex["text"].split()
      for e in ex["entities"]:
        assert e["phrase"] in ex["context"], (ex["id"], e)
        assert " ".join(words[e["start"]:e["end"]]) == e["phrase"], (ex["id"], e)
        assert e["kind"] in ("contact", "device")
        n_entities += 1
      assert ex["stream_text"] == "alexa " + ex["text"]
  assert n_entities > 20


def test_test_names_never_occur_in_training(tiny_data_dir):
  common = grammar.vocabulary()
  train_words = set()
  for ex in _all(_split(tiny_data_dir, "train")):
    train_words.update(ex["text"].split())
    for c in ex["context"]:
      train_words.update(c.split())
  checked = 0
  for split in ("test", "test_noisy", "test_unseen_voice"):
    for ex in _all(_split(tiny_data_dir, split)):
      for phrase in ex["context"]:
        for w in phrase.split():
          if w in common:
            continue  # device nouns and rooms are shared vocabulary
          stem = w[:-2] if w.endswith("'s") else w
          assert names.pool_of(stem) == "test", (phrase, w)
          assert w not in train_words and stem not in train_words, (ex["id"], w)
          checked += 1
  assert checked > 100


def test_audio_format_and_times(tiny_data_dir):
  for split in corpus.SPLITS:
    for ex in _all(_split(tiny_data_dir, split)):
      audio = ex["audio"]
      assert audio.dtype == np.int16 and audio.ndim == 1
      dur = len(audio) / 16000
      assert abs(dur - ex["duration"]) < 1e-3
      assert 0 < ex["wake_end"] < ex["speech_start"] < ex["speech_end"] < dur, ex["id"]
      # The request region carries speech well above the noise floor.
      req = audio[int(ex["speech_start"] * 16000):int(ex["speech_end"] * 16000)].astype(np.float64)
      lead = audio[:int(0.08 * 16000)].astype(np.float64)
      aug = json.loads(ex["augmentation"])
      assert np.sqrt(np.mean(req ** 2)) > 50, ex["id"]
      if aug["noise"] == "none":
        assert np.sqrt(np.mean(req ** 2)) > 10 * np.sqrt(np.mean(lead ** 2)), ex["id"]
      assert ex["engine"] in ("espeak", "piper", "flite", "festival")
      assert json.loads(ex["voice_params"])["engine"] == ex["engine"]


def test_unseen_voice_is_held_out(tiny_data_dir):
  _, held = corpus.voice_inventory()
  held = set(held)
  unseen = {(ex["engine"], ex["voice"]) for ex in _all(_split(tiny_data_dir, "test_unseen_voice"))}
  assert unseen <= held
  for split in ("train", "validation", "test", "test_noisy", "unlabeled"):
    for ex in _all(_split(tiny_data_dir, split)):
      assert (ex["engine"], ex["voice"]) not in held, (split, ex["id"])


def test_noisy_split_has_competing_talker(tiny_data_dir):
  for ex in _all(_split(tiny_data_dir, "test_noisy")):
    assert json.loads(ex["augmentation"])["noise"] == "talker"


def test_unlabeled_source_hides_labels(tiny_data_dir):
  ex = _split(tiny_data_dir, "unlabeled", labeled=False)[0]
  assert "text" not in ex and "context" not in ex and "entities" not in ex
  assert ex["audio"].dtype == np.int16


def test_grammar_domains_and_entity_free_share():
  assert len({d for d, *_ in grammar.TEMPLATES}) >= 6
  frac = grammar.no_entity_fraction(num_samples=2000)
  assert 0.25 <= frac <= 0.6, frac


def test_generation_is_deterministic_and_seeded():
  cfg = corpus.CorpusConfig()
  a = corpus.generate_chunk(cfg, "train", 0, 6)
  corpus.generate_chunk(cfg, "test_noisy", 3, 5)  # other work in between
  b = corpus.generate_chunk(cfg, "train", 0, 6)
  for x, y in zip(a, b):
    assert x["text"] == y["text"] and np.array_equal(x["audio"], y["audio"]), x["id"]
  c = corpus.generate_chunk(corpus.CorpusConfig(seed=1), "train", 0, 6)
  assert any(x["text"] != z["text"] for x, z in zip(a, c))


def test_tokenizer_round_trips_unseen_names(tiny_tokenizer_path):
  from asr.data import tokenizer
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  for text in ("call zoe muller", "turn on xiomara's quartz lamp", "o'brien"):
    ids = tok.encode(text)
    assert 0 not in ids and 1 not in ids  # never blank, never unk
    assert tok.decode(ids) == text
