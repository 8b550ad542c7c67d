"""The trainer: config validation, logs and plots, resume after a real kill, multi-process runs."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from latentedit import ConfigError, LatentEditor, TransformerVAE
from latentedit.data import SAMPLE_REVIEWS
from trainers.config import TrainConfig
from trainers.train import learning_rate_factor, main, train, training_minutes

REPO = Path(__file__).resolve().parent.parent
TINY = {
    "data": {"train": str(SAMPLE_REVIEWS), "column": "text", "vocab_size": 300, "valid_fraction": 0.1},
    "model": {"d_model": 32, "d_ff": 64, "num_heads": 2, "d_kv": 16, "encoder_layers": 1, "decoder_layers": 1,
              "max_length": 24, "latent_tokens": 2, "latent_dim": 8, "dropout": 0.1, "word_dropout": 0.1},
    "training": {"batch_size": 16, "steps": 30, "log_every": 5, "eval_every": 15, "eval_examples": 8,
                 "checkpoint_every": 5, "warmup_steps": 5},
}


def tiny_config(output_dir: Path, **sections) -> TrainConfig:
    values = {name: {**TINY[name], **sections.get(name, {})} for name in TINY}
    values["training"]["output_dir"] = str(output_dir)
    return TrainConfig.from_dict(values)


def write_toml(path: Path, config: TrainConfig) -> Path:
    lines = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items() if value is not None]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_training_writes_model_logs_and_plot(tmp_path):
    final = train(tiny_config(tmp_path / "run"), show_progress=False)
    model = TransformerVAE.from_pretrained(final)
    assert model.tokenizer is not None and model.config.vocab_size == model.tokenizer.vocab_size
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["event"] == "data" and records[0]["train_examples"] == 360
    train_steps = [r["step"] for r in records if r.get("split") == "train"]
    assert train_steps == [5, 10, 15, 20, 25, 30]
    valid = [r for r in records if r.get("split") == "valid"]
    assert [r["step"] for r in valid] == [15, 30]
    assert {"greedy_exact_match", "teacher_forced_accuracy", "rate", "active_units"} <= set(valid[-1])
    assert (tmp_path / "run" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    first, last = records[1]["loss"], [r for r in records if r.get("split") == "train"][-1]["loss"]
    assert last < first  # it learns
    lexicon = LatentEditor.load(final).lexicon  # the training texts' words seen twice or more
    assert lexicon is not None and {"the", "food", "."} <= lexicon.words and 100 < len(lexicon) < 2000


def test_long_lines_are_truncated_and_counted(tmp_path):
    data = tmp_path / "long.txt"
    data.write_text("\n".join(["short line here"] * 40 + ["word " * 200] * 3) + "\n\n")
    config = tiny_config(tmp_path / "run", data={"train": str(data), "column": None, "valid_fraction": 0.0},
                         training={"steps": 2, "eval_every": 2, "checkpoint_every": 2})
    train(config, show_progress=False)
    stats = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert stats["train_truncated"] == 3 and stats["train_examples"] == 43


def test_resume_after_a_real_kill_matches_an_uninterrupted_run(tmp_path):
    straight = train(tiny_config(tmp_path / "straight"), show_progress=False)

    config = tiny_config(tmp_path / "killed")
    toml = write_toml(tmp_path / "killed.toml", config)
    process = subprocess.Popen([sys.executable, "-m", "trainers.train", str(toml), "--no-progress"], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "killed" / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["step"] >= 10:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.loads(state.read_text())["step"]
    assert killed_at < 30, "the run finished before it could be killed; make it longer"

    resumed = train(config, resume=True, show_progress=False)
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert (a[name] == b[name]).all(), name


def test_resume_refuses_a_changed_config_and_a_missing_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(tiny_config(tmp_path / "none"), resume=True, show_progress=False)
    train(tiny_config(tmp_path / "run", training={"steps": 5}), show_progress=False)
    with pytest.raises(ConfigError, match="latent_dim"):
        train(tiny_config(tmp_path / "run", model={"latent_dim": 4}), resume=True, show_progress=False)
    # only the number of steps may change: a run can be extended
    train(tiny_config(tmp_path / "run", training={"steps": 10}), resume=True, show_progress=False)
    steps = [json.loads(line).get("step") for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 10


def test_a_time_limit_stops_the_run_decayed_and_saves_the_model(tmp_path):
    config = tiny_config(tmp_path / "run", training={"max_minutes": 1e-9})  # spent at the first log (step 5)
    final = train(config, show_progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r.get("split") == "train"] == [5]
    assert [r["step"] for r in records if r.get("split") == "valid"] == [5]  # evaluated where it stopped
    assert json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())["step"] == 5
    assert TransformerVAE.from_pretrained(final).config.latent_dim == 8
    # the schedule: time spent decays the rate like steps done
    t = config.training
    assert learning_rate_factor(10, config, time_used=1.0) == pytest.approx(t.min_lr_ratio)
    assert learning_rate_factor(10, config, time_used=0.0) > learning_rate_factor(10, config, time_used=0.5)
    assert learning_rate_factor(2, config, time_used=1.0) == learning_rate_factor(2, config)  # warm-up is by steps
    # a stopped run resumes under a new limit (or none): how long a run goes may change
    train(tiny_config(tmp_path / "run", training={"steps": 10}), resume=True, show_progress=False)
    steps = [json.loads(line).get("step") for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 10


def test_bf16_falls_back_to_fp32_on_a_cpu_without_native_bf16(tmp_path, monkeypatch, capsys):
    import trainers.train as trainer

    monkeypatch.setattr(trainer.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: True)
    assert trainer.effective_precision("bf16") == "bf16" and trainer.effective_precision("no") == "no"
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: False)
    assert trainer.effective_precision("fp16") == "fp16"  # only bf16 is emulated so slowly
    config = tiny_config(tmp_path / "run", training={"steps": 5, "eval_every": 5, "mixed_precision": "bf16"})
    train(config, show_progress=False)
    first = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["mixed_precision"] == "no" and "no native bf16" in capsys.readouterr().err


def test_a_new_run_continues_from_a_finished_model(tmp_path):
    first = train(tiny_config(tmp_path / "first", training={"steps": 10}), show_progress=False)
    config = tiny_config(tmp_path / "second", training={"steps": 1, "lr": 1e-9, "init_from": str(first)})
    second = train(config, show_progress=False)
    assert (tmp_path / "second" / "tokenizer.json").read_text() == (first / "tokenizer.json").read_text()
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    assert all((a[name] - b[name]).abs().max() < 1e-4 for name in a)  # one step at a negligible learning rate
    with pytest.raises(ConfigError, match="latent_dim"):
        train(tiny_config(tmp_path / "third", model={"latent_dim": 4}, training={"init_from": str(first)}),
              show_progress=False)
    # a continued run may add the bag-of-words loss: every other tensor comes from the first model
    bag = train(tiny_config(tmp_path / "bag", model={"bag_of_words": 1.0}, training={"steps": 1, "lr": 1e-9,
                                                                                     "init_from": str(first)}),
                show_progress=False)
    c = load_file(str(bag / "model.safetensors"))
    assert set(c) == set(a) | {"to_bag.weight", "to_bag.bias"}
    assert all((a[name] - c[name]).abs().max() < 1e-4 for name in a)
    assert "bag_of_words" in (tmp_path / "bag" / "metrics.jsonl").read_text()
    with pytest.raises(ConfigError, match="bag_of_words"):  # ... but not drop it
        train(tiny_config(tmp_path / "back", training={"init_from": str(bag)}), show_progress=False)
    # ... and change the training-time noise, which no weight depends on
    noise = {"dropout": 0.2, "input_deletion": 0.1, "word_dropout": 0.1, "latent_noise": 0.5}
    noisy = train(tiny_config(tmp_path / "noisy", model=noise, training={"steps": 1, "lr": 1e-9, "init_from": str(first)}),
                  show_progress=False)
    assert set(load_file(str(noisy / "model.safetensors"))) == set(a)
    with pytest.raises(ConfigError, match="at most one"):
        tiny_config(tmp_path / "fourth", training={"init_from": str(first), "init_t5": str(first)})


def test_frozen_parameters_keep_their_values_and_the_rest_trains(tmp_path):
    first = train(tiny_config(tmp_path / "first", training={"steps": 5}), show_progress=False)
    frozen = ["shared", "decoder", "to_memory", "to_embedding"]
    second = train(tiny_config(tmp_path / "second", training={"steps": 5, "lr": 1e-2, "init_from": str(first),
                                                              "freeze": frozen}), show_progress=False)
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    held = [name for name in a if name.startswith(tuple(f"{p}." for p in frozen))]
    assert held and all(torch.equal(a[name], b[name]) for name in held)
    assert any(not torch.equal(a[name], b[name]) for name in a if name.startswith("encoder."))
    with pytest.raises(ConfigError, match="no parameter names start with"):
        train(tiny_config(tmp_path / "third", training={"freeze": ["decodr"]}), show_progress=False)
    with pytest.raises(ConfigError, match="training.freeze must be a list"):
        tiny_config(tmp_path / "fourth", training={"freeze": "decoder"})


@pytest.mark.parametrize("override, message", [
    ("model.d_model=-4", "d_model must be a positive integer"),
    ('model.regularizer="vq"', "regularizer must be one of"),
    ("training.lr=0", "training.lr must be a finite number > 0"),
    ("training.batch_size=0", "training.batch_size must be an integer >= 1"),
    ("training.max_minutes=-1", "training.max_minutes"),
    ("data.valid_fraction=1.5", "valid_fraction"),
    ("model.colour=3", "unknown model config keys"),
])
def test_bad_config_values_give_clear_errors(tmp_path, capsys, override, message):
    toml = write_toml(tmp_path / "c.toml", tiny_config(tmp_path / "run"))
    assert main([str(toml), "--set", override, "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_malformed_data_file_names_file_and_line(tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "fine"}\n{"text": broken\n')
    toml = write_toml(tmp_path / "c.toml", tiny_config(tmp_path / "run", data={"train": str(data)}))
    assert main([str(toml), "--no-progress"]) == 2
    assert f"{data}:2" in capsys.readouterr().err


def test_two_process_run_matches_one_process_loss(tmp_path):
    """Data parallel on CPU (gloo): same global batch, so the same losses up to z-sampling noise."""
    sections = {"model": {"regularizer": "kl_free_bits", "dropout": 0.0, "word_dropout": 0.0},
                "training": {"steps": 10, "checkpoint_every": 10, "eval_every": 10}}
    single = tiny_config(tmp_path / "one", **sections)
    train(single, show_progress=False)
    double = write_toml(tmp_path / "two.toml", tiny_config(tmp_path / "two", **sections))
    launcher = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "-m", "trainers.train",
                    str(double), "--no-progress"], cwd=REPO, env=env, check=True, capture_output=True, timeout=300)

    def losses(run):
        lines = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        return [(r["step"], r["loss"], r.get("processes")) for r in map(json.loads, lines) if r.get("split") == "train"]

    records = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["processes"] == 2
    for (step_a, loss_a, _), (step_b, loss_b, _) in zip(losses("one"), losses("two"), strict=True):
        assert step_a == step_b
        assert abs(loss_a - loss_b) / loss_a < 0.02


def test_backbone_initialised_from_a_local_t5_folder(tmp_path):
    from transformers import T5Config, T5ForConditionalGeneration

    from latentedit import ModelFolderError, VAEConfig

    config = VAEConfig(vocab_size=300, d_model=32, d_ff=64, num_heads=2, d_kv=16, encoder_layers=2,
                       decoder_layers=1, latent_tokens=2, latent_dim=8)
    t5 = T5ForConditionalGeneration(T5Config(vocab_size=500, d_model=32, d_ff=64, num_heads=2, d_kv=16,
                                             num_layers=2, num_decoder_layers=1))
    t5.save_pretrained(tmp_path / "t5")
    model = TransformerVAE(config)
    copied = model.load_t5_backbone(tmp_path / "t5")
    source = t5.state_dict()
    assert "shared.weight" not in copied  # vocabularies differ: embeddings stay ours
    assert len(copied) > 10
    for name in copied:
        assert (model.state_dict()[name] == source[name]).all(), name
    with pytest.raises(ModelFolderError, match="does not fit this backbone"):
        TransformerVAE(config.replace(d_ff=128)).load_t5_backbone(tmp_path / "t5")
    (tmp_path / "t5" / "model.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="only safetensors"):
        model.load_t5_backbone(tmp_path / "t5")


@pytest.mark.parametrize("path", sorted((REPO / "trainers" / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_committed_config_loads(path):
    template = path.name == "regularizer_study.toml"  # the study fills in [data] per corpus
    assert TrainConfig.load(path, ["data.train=corpus.txt"] if template else []).training.steps > 0


def noiseless(config: TrainConfig):
    """The [model] section without what a continued run may add or change: the bag-of-words loss
    and the training-time noise."""
    return config.model.replace(bag_of_words=0.0, input_deletion=0.0, latent_noise=0.0)


@pytest.mark.parametrize("earlier, later", [("default", "default_continue"), ("default_continue", "default_stage3"),
                                             ("default_stage3", "default_stage4"),
                                             ("python_lines", "python_lines_continue"),
                                             ("python_lines_continue", "python_lines_stage3"),
                                             ("python_lines_stage3", "python_lines_stage4"),
                                             ("default_stage4", "default_stage5"),
                                             ("python_lines_stage4", "python_lines_stage5"),
                                             ("default_stage4", "study_bag_of_words_control"),
                                             ("default_stage4", "study_bag_of_words"),
                                             ("default_stage5", "default_denoise"),
                                             ("python_lines_stage5", "python_lines_denoise"),
                                             ("python_lines_stage5", "python_lines_latent_noise"),
                                             ("python_lines_stage5", "python_lines_latent_noise_08"),
                                             ("python_lines_stage5", "python_lines_control"),
                                             ("python_lines_stage7", "python_lines_stage7_settle"),
                                             ("python_lines_extra", "python_lines_stage8"),
                                             ("python_lines_stage8", "python_lines_stage8_noise")])
def test_a_built_in_models_next_stage_continues_the_one_before(earlier, later):
    first = TrainConfig.load(REPO / "trainers" / "configs" / f"{earlier}.toml")
    second = TrainConfig.load(REPO / "trainers" / "configs" / f"{later}.toml")
    # init_from needs the same [model], except that a continued run may add the bag-of-words loss
    # and change the training-time noise
    assert noiseless(second) == noiseless(first) and second.data == first.data
    assert second.training.init_from == f"{first.training.output_dir}/model"


@pytest.mark.parametrize("name", ["python_lines_stage7", "python_lines_extra"])
def test_python_lines_stage7_runs_continue_stage6_with_the_shipped_model_shape(name):
    stage6 = TrainConfig.load(REPO / "trainers" / "configs" / "python_lines_latent_noise.toml")
    stage7 = TrainConfig.load(REPO / "trainers" / "configs" / f"{name}.toml")
    assert noiseless(stage7) == noiseless(stage6) and stage7.data.valid == stage6.data.valid
    assert dataclasses.replace(stage7.data, train=stage6.data.train) == stage6.data  # extra lines train, same held-out
    assert stage7.training.init_from == f"{stage6.training.output_dir}/model"
    shipped = TransformerVAE.from_pretrained(REPO / "latentedit" / "models" / "python-lines").config
    assert shipped.replace(vocab_size=stage7.model.vocab_size) == noiseless(stage7).replace(latent_noise=shipped.latent_noise)


@pytest.mark.parametrize("name", ["default_stage6", "default_yelp_stage6"])
def test_default_stage6_studies_continue_the_shipped_default_model(name):
    stage5 = TrainConfig.load(REPO / "trainers" / "configs" / "default_stage5.toml")
    stage6 = TrainConfig.load(REPO / "trainers" / "configs" / f"{name}.toml")
    assert stage6.model == stage5.model and stage6.data.valid == stage5.data.valid  # Yelp dev stays held out
    assert stage6.training.init_from == "latentedit/models/default"
    shipped = TransformerVAE.from_pretrained(REPO / "latentedit" / "models" / "default").config
    assert shipped.replace(vocab_size=stage6.model.vocab_size) == stage6.model


def test_training_minutes_span_the_run_folder(tmp_path):
    run, model = tmp_path / "run", tmp_path / "run" / "model"
    model.mkdir(parents=True)
    assert training_minutes(model) is None  # no tokenizer, no weights: unknown
    (run / "tokenizer.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    os.utime(run / "tokenizer.json", (1000.0, 1000.0))
    os.utime(model / "model.safetensors", (1000.0 + 95 * 60, 1000.0 + 95 * 60))
    assert training_minutes(model) == 95
    earlier = tmp_path / "stage1" / "model"
    earlier.mkdir(parents=True)
    assert training_minutes(model, earlier) is None  # a stage of unknown length
    (earlier.parent / "tokenizer.json").write_text("{}")
    (earlier / "model.safetensors").write_bytes(b"")
    os.utime(earlier.parent / "tokenizer.json", (0.0, 0.0))
    os.utime(earlier / "model.safetensors", (20 * 60, 20 * 60))
    assert training_minutes(model, earlier) == 115  # the stages add
