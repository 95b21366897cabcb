"""benchmarks.tables: regenerate from the JSONs present, keep tables that have none."""

import json

from benchmarks import tables


def _loss_result(device_kind):
  form = {"peak_bytes": 2 ** 20, "time_s_median": 0.5}
  return {"command": "python -m benchmarks.rnnt_loss_memory", "git_commit": "abcdef12",
          "git_dirty": False, "date": "2026-11-26T00:00:00+00:00",
          "machine": {"cpu_count": 2}, "jax": {"device_kind": device_kind},
          "config": {"batch": 8, "frames": 200, "labels": 50, "vocab": 1024},
          "metrics": {"forms": {"fused": form, "full": {**form, "peak_bytes": 6 * 2 ** 20}}}}


def _write_result(results_dir, folder, device_kind):
  """One rnnt_loss_memory JSON for ``device_kind`` under ``results_dir/folder``."""
  out = results_dir / folder
  out.mkdir(parents=True, exist_ok=True)
  (out / "1.json").write_text(json.dumps(_loss_result(device_kind)))


def test_tables_without_results_are_kept_and_accelerator_rows_stay_apart(tmp_path, monkeypatch):
  monkeypatch.setattr(tables, "RESULTS_DIR", tmp_path)
  doc = ("<!-- BEGIN GENERATED: rnnt_loss_memory -->\nOLD CPU ROWS\n"
         "<!-- END GENERATED: rnnt_loss_memory -->\n"
         "<!-- BEGIN GENERATED: accelerator_rnnt_loss_memory -->\nOLD GPU ROWS\n"
         "<!-- END GENERATED: accelerator_rnnt_loss_memory -->\n"
         "<!-- BEGIN GENERATED: quickstart -->\nOLD QUICKSTART\n<!-- END GENERATED: quickstart -->\n")
  assert tables.render(doc) == doc  # A fresh clone: no results, nothing emptied.

  _write_result(tmp_path, "accelerator_check/rnnt_loss_memory", "NVIDIA H200")
  out = tables.render(doc)
  assert "OLD CPU ROWS" in out and "OLD QUICKSTART" in out
  assert "OLD GPU ROWS" not in out
  gpu_table = out.split("accelerator_rnnt_loss_memory -->")[1]
  assert "| NVIDIA H200 | 8, 200, 50, 1024 | full | 6 | 500.0 ms | 6.0x |" in gpu_table

  _write_result(tmp_path, "rnnt_loss_memory", "cpu")
  out = tables.render(out)
  cpu_table = out.split("<!-- BEGIN GENERATED: rnnt_loss_memory -->")[1].split("<!-- END")[0]
  assert "| CPU x2 |" in cpu_table and "H200" not in cpu_table


def test_only_regenerates_the_named_tables(tmp_path, monkeypatch):
  monkeypatch.setattr(tables, "RESULTS_DIR", tmp_path)
  _write_result(tmp_path, "rnnt_loss_memory", "cpu")
  doc = "<!-- BEGIN GENERATED: rnnt_loss_memory -->\nOLD\n<!-- END GENERATED: rnnt_loss_memory -->"
  assert tables.render(doc, only={"quickstart"}) == doc
  assert "OLD" not in tables.render(doc, only={"rnnt_loss_memory"})


def test_row_tables_keep_committed_rows_of_other_provenance(tmp_path, monkeypatch):
  monkeypatch.setattr(tables, "RESULTS_DIR", tmp_path)
  _write_result(tmp_path, "rnnt_loss_memory", "cpu")
  prov = "`python -m benchmarks.rnnt_loss_memory` (abcdef12, 2026-11-26)"
  doc = ("<!-- BEGIN GENERATED: rnnt_loss_memory -->\n| h |\n|---|\n"
         "| NVIDIA H100 | old row from another machine | `python -m x` (1234abcd, 2026-11-25) |\n"
         f"| CPU x2 | 8, 200, 50, 1024 | fused | 99 | stale format | {prov} |\n"
         "<!-- END GENERATED: rnnt_loss_memory -->")
  out = tables.render(doc)
  assert "old row from another machine" in out  # its JSON is not here: kept
  assert "stale format" not in out  # regenerated from the JSON with its provenance
  assert out.index("old row") < out.index("| CPU x2 | 8, 200, 50, 1024 | fused | 1 |")
  assert tables.render(out) == out  # idempotent


def test_block_tables_keep_blocks_of_commands_not_rerun():
  old = ("Model `a` (step 1); `python -m benchmarks.decoding --workdir=a` (1, 2026-11-25)\n\n"
         "| t |\n|---|\n| 1 |\n\nStreaming RTF: 0.1.\n\n"
         "Model `b` (step 1); `python -m benchmarks.decoding --workdir=b` (1, 2026-11-25)\n\n"
         "| t |\n|---|\n| OLD B |")
  new = ("Model `b` (step 2); `python -m benchmarks.decoding --workdir=b` (2, 2026-11-26)\n\n"
         "| t |\n|---|\n| NEW B |")
  out = tables.merge_blocks(old, new)
  assert "OLD B" not in out and "NEW B" in out
  assert "Streaming RTF: 0.1." in out and out.index("--workdir=a") < out.index("NEW B")
  assert tables.merge_blocks(out, new) == out


def _sweep(split, workdir, reference, points, backfill=()):
  """A benchmarks.branching result: points = [(threshold, compute saving, WER vs reference)]."""
  rows = [{"workdir": workdir, "threshold": t, "compute_saving": s, "wer_rel_reference": w,
           "bootstrap": {"ci_low": w - 0.04, "ci_high": w + 0.04}} for t, s, w in points]
  return {"command": f"python -m benchmarks.branching --split={split} --workdirs={workdir}",
          "git_commit": "abcdef12", "git_dirty": False, "date": "2026-12-06T00:00:00+00:00",
          "machine": {"cpu_count": 2}, "jax": {"device_kind": "cpu"},
          "config": {"workdirs": [workdir], "reference": reference, "split": split,
                     "thresholds": [str(t) for t, _, _ in points], "trailing_s": None,
                     "backfill_thresholds": list(backfill), "hold_thresholds": []},
          "metrics": {"rows": rows}}


def test_branching_operating_points_choose_on_validation_and_read_test():
  rows = [
      # seed 0: validation reaches 40 % first at 0.5; test there: 41 % at +1 % (meets)
      _sweep("validation", "workdirs/m", "workdirs/a", [(0.3, 0.38, 0.0), (0.5, 0.40, 0.0),
                                                        (0.7, 0.45, 0.02)]),
      _sweep("test", "workdirs/m", "workdirs/a", [(0.3, 0.39, -0.01), (0.5, 0.41, 0.01),
                                                  (0.7, 0.46, 0.02)]),
      # seed 1: validation reaches 40 % at 0.3; test there: 40.5 % at +7 % (misses)
      _sweep("validation", "workdirs/m_seed1", "workdirs/a_seed1", [(0.3, 0.41, 0.0), (0.5, 0.43, 0.0)]),
      _sweep("test", "workdirs/m_seed1", "workdirs/a_seed1", [(0.3, 0.405, 0.07), (0.5, 0.44, 0.0)]),
      # a backfill sweep is not a threshold sweep: left out even where it looks better
      _sweep("validation", "workdirs/m_seed1", "workdirs/a_seed1", [(0.1, 0.60, -0.05)],
             backfill=("0.05",)),
      # no validation point reaches 40 %
      _sweep("validation", "workdirs/n", "workdirs/a", [(0.3, 0.2, 0.0)]),
      _sweep("test", "workdirs/n", "workdirs/a", [(0.3, 0.2, 0.0)]),
      # test only: no row
      _sweep("test", "workdirs/o", "workdirs/a", [(0.3, 0.5, 0.0)]),
  ]
  out = tables.branching_operating_points(rows).splitlines()
  assert len(out) == 2 + 4, out
  m, m1, mean, n = out[2:]
  assert m.startswith("| `m` | `a` | 0.5 | 40.0 %, +0.0 % | 41.0 % | +1.0 % (-3.0 % .. +5.0 %) | yes |")
  assert m1.startswith("| `m_seed1` | `a_seed1` | 0.3 | 41.0 %, +0.0 % | 40.5 % | +7.0 %")
  assert "| no |" in m1
  # mean of the chosen points: 40.75 % saving at +4.0 %
  assert mean.startswith("| **`m`: mean of 2 seeds** | - | - | - | 40.8 % | +4.0 % | 1 of 2 seeds; the mean: no |")
  assert n.startswith("| `n` | `a` | none reaches 40 % |")


def test_operating_points_keep_one_row_per_model_across_regenerations():
  """A model's row read from a newer test sweep replaces its committed row (the
  rows are keyed by model, not provenance); other models' rows are kept."""
  header = "| model | x | p |\n|---|---|---|\n"
  old = header + "| `m` | OLD M | `python -m a` (1, d) |\n| `gone` | kept | `python -m b` (1, d) |"
  new = header + "| `m` | NEW M | `python -m c` (2, d) |"
  out = tables.merge_rows(old, new, tables.ROW_KEYS["branching_operating_points"])
  assert "OLD M" not in out and "NEW M" in out and "| `gone` | kept |" in out
  assert out.count("`m`") == 1
  # by provenance (the default) the stale row would have stayed
  assert "OLD M" in tables.merge_rows(old, new)


def test_branching_wall_cells_show_the_host_and_compiled_loops():
  row = {"ms_per_audio_s": 4.5, "ms_per_audio_s_all_expensive": 5.0, "wall_saving": 0.1,
         "loop_ms_per_audio_s": 2.0, "loop_ms_per_audio_s_all_expensive": 2.5, "loop_wall_saving": 0.2,
         "loop_wall_saving_vs_reference": 0.25}
  assert tables._wall_cells(row, "") == "| 4.5 (5.0) | 10.0 % "  # pylint: disable=protected-access
  assert (tables._wall_cells(row, "loop_", merged=True)  # pylint: disable=protected-access
          == "| 2.0 (2.5), 20.0 % (vs ref. 25.0 %) ")
  assert tables._wall_cells({}, "loop_", merged=True) == "| - "  # pylint: disable=protected-access


def test_machine_names_a_pinned_run():
  d = {"jax": {"device_kind": "cpu"}, "machine": {"cpu_count": 2}}
  assert tables._machine(d) == "CPU x2"  # pylint: disable=protected-access
  d["machine"]["cpu_affinity"] = 1  # taskset -c 0 python -m ...
  assert tables._machine(d) == "CPU x1 (pinned, of 2)"  # pylint: disable=protected-access
  assert tables._machine({"jax": {"device_kind": "NVIDIA H100"}}) == "NVIDIA H100"  # pylint: disable=protected-access


def test_operating_points_family_mean_row_is_replaced_when_seeds_are_added():
  header = "| model | x | p |\n|---|---|---|\n"
  old = header + "| **`m`: mean of 3 seeds** | OLD | - |"
  new = header + "| **`m`: mean of 4 seeds** | NEW | - |"
  out = tables.merge_rows(old, new, tables.ROW_KEYS["branching_operating_points"])
  assert "OLD" not in out and "NEW" in out
