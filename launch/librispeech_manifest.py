r"""Turns a LibriSpeech subset into a JSON-lines manifest with biasing lists.

  python -m launch.librispeech_manifest --subset_dir=/data/LibriSpeech/test-clean \
      --output=data/manifests/librispeech/test-clean.jsonl \
      [--biasing_tsv=fbai-speech/is21_deep_bias/ref/test-clean.biasing_100.tsv]

LibriSpeech (openslr.org/12) and the rare-word lists of Le et al. 2021
(github.com/facebookresearch/fbai-speech, ``is21_deep_bias/ref/*.tsv``: id,
text, rare words of the utterance, list with N distractors) are brought by the
user; nothing is downloaded. Each line gets ``context`` = the utterance's rare
words (what B-WER counts) and, with ``--biasing_tsv``, ``biasing_list`` = the
published list with distractors, which ``launch.evaluate`` uses when
``--distractors`` is not given. FLAC files are referenced in place.
"""

import ast
import glob
import json
import os

from absl import app
from absl import flags

flags.DEFINE_string("subset_dir", None, "A LibriSpeech subset directory (e.g. .../test-clean).")
flags.DEFINE_string("output", None, "Manifest to write.")
flags.DEFINE_string("biasing_tsv", None, "Le et al. biasing list TSV for this subset.")
flags.mark_flags_as_required(["subset_dir", "output"])
FLAGS = flags.FLAGS


def read_biasing_tsv(path: str) -> dict[str, tuple[list[str], list[str]]]:
  out = {}
  with open(path, encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
      parts = line.rstrip("\n").split("\t")
      if len(parts) != 4:
        raise ValueError(f"{path}:{lineno}: expected 4 tab-separated fields, got {len(parts)}")
      uid, _, rare, full = parts
      out[uid] = ([w.lower() for w in ast.literal_eval(rare)],
                  [w.lower() for w in ast.literal_eval(full)])
  return out


def main(argv):
  del argv
  import soundfile as sf  # pylint: disable=g-import-not-at-top
  biasing = read_biasing_tsv(FLAGS.biasing_tsv) if FLAGS.biasing_tsv else {}
  trans = sorted(glob.glob(os.path.join(FLAGS.subset_dir, "*", "*", "*.trans.txt")))
  if not trans:
    raise FileNotFoundError(f"no */*/*.trans.txt under {FLAGS.subset_dir}")
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  n = 0
  with open(FLAGS.output, "w", encoding="utf-8") as out:
    for t in trans:
      with open(t, encoding="utf-8") as f:
        for line in f:
          uid, text = line.strip().split(" ", 1)
          audio = os.path.join(os.path.dirname(t), uid + ".flac")
          entry = {"id": uid, "audio_filepath": os.path.abspath(audio),
                   "duration": sf.info(audio).duration, "text": text.lower()}
          if uid in biasing:
            entry["context"], entry["biasing_list"] = biasing[uid]
          out.write(json.dumps(entry) + "\n")
          n += 1
  print(f"wrote {n} utterances to {FLAGS.output}")


if __name__ == "__main__":
  app.run(main)
