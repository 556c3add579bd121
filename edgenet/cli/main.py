"""Root command group. Subcommands are imported only when run, so ``edgenet --help`` stays instant."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading

import click

from edgenet import __version__
from edgenet.errors import (
    EdgenetError,
    disk_full,
    interrupt_exit_code,
    interrupt_handled,
    raise_interrupted,
    raise_terminated,
)

# command name -> "module:function"; each module imports torch/tensorflow inside its command only.
COMMANDS = {
    "models": "edgenet.cli.models_cmd:models",
    "scale": "edgenet.cli.scale_cmd:scale",
    "fit": "edgenet.cli.fit_cmd:fit",
    "convert": "edgenet.cli.convert_cmd:convert",
    "bench": "edgenet.cli.bench_cmd:bench",
    "report": "edgenet.cli.report_cmd:report",
    "edgetpu": "edgenet.cli.edgetpu_cmd:edgetpu",
    "bundle": "edgenet.cli.bundle_cmd:bundle",
    "import-weights": "edgenet.cli.import_cmd:import_weights",
    "train": "edgenet.cli.train_cmd:train",
    "eval": "edgenet.cli.eval_cmd:eval_",
    "quant-report": "edgenet.cli.quant_report_cmd:quant_report",
    "predict": "edgenet.cli.predict_cmd:predict",
}


class LazyGroup(click.Group):
    """A group whose commands load on first use and whose user errors print as one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        """One line for a user's error; exit 130 for Ctrl-C and 143 for SIGTERM in every command (click would say
        "Aborted!" and exit 1), after the commands' ``finally`` blocks removed their temporaries."""
        main = threading.current_thread() is threading.main_thread()
        interrupt_handled()
        old = signal.signal(signal.SIGTERM, raise_terminated) if main else None
        own_int = main and signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not if ignored
        old_int = signal.signal(signal.SIGINT, raise_interrupted) if own_int else None
        # the library warns through the "edgenet" logger; the CLI is what shows it (on the stderr of this call)
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("WARNING: %(message)s"))
        handler.setLevel(logging.WARNING)
        logger = logging.getLogger("edgenet")
        logger.addHandler(handler)
        try:
            return super().invoke(ctx)
        except EdgenetError as e:
            click.echo(f"error: {e}", err=True)
            sys.stderr.flush()
            ctx.exit(e.exit_code)
        except KeyboardInterrupt as e:
            interrupt_handled()
            click.echo("interrupted", err=True)
            ctx.exit(interrupt_exit_code(e))
        except OSError as e:
            if (full := disk_full(e)) is None:
                raise
            click.echo(f"error: {full}", err=True)
            ctx.exit(full.exit_code)
        finally:
            logger.removeHandler(handler)
            if main:
                signal.signal(signal.SIGTERM, old)
            if own_int:
                signal.signal(signal.SIGINT, old_int)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time: conversion swaps it while it captures native logging."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="edgenet")
def cli() -> None:
    """EfficientNet from training to phones, Coral Edge TPUs and desktop GPUs.

    \b
    Start with:
      edgenet models                      the family: params and MACs of every variant
      edgenet convert --model b1 --int8   ONNX + TFLite fp32/int8, every stage checked
      edgenet predict MODEL IMAGE...      top classes of photos from a .tflite, .onnx or checkpoint

    \b
    The path to a device:
      edgenet train --pretrained lite0 --data DIR --out runs/mine         fine-tune on your classes
      edgenet convert --checkpoint runs/mine/best.pt --int8 --calib-data DIR --eval-data VAL
      edgenet bench build/.../model_int8.tflite --eval-data VAL --db results.sqlite
      edgenet bundle build/.../model_int8.tflite --out app/             labels + metadata for an app
    Shell completion: eval "$(_EDGENET_COMPLETE=bash_source edgenet)" (zsh_source, fish_source).
    """


def main() -> None:
    """The ``edgenet`` process. TensorFlow imports Keras 3 eagerly (1.6 s here) unless told it uses ``tf_keras``,
    which onnx2tf needs anyway: as its own process the command says so, unless the user chose otherwise. (The
    library leaves it alone: a notebook importing edgenet may want Keras 3 as ``tf.keras``.)"""
    import os

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    cli()
