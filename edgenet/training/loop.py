"""The training loop: one :class:`TrainConfig` in, a run folder (checkpoints + metrics) and a :class:`TrainResult` out.

A run folder holds ``last.pt`` (written after every epoch and on Ctrl-C/SIGTERM, with everything ``--resume``
needs), ``best.pt`` (deployable weights of the best validation epoch) and ``metrics.jsonl`` (one line per epoch).

Resuming is exact by construction: the data order of an epoch is a function of (seed, epoch), each image's
augmentation of (seed, epoch, index) and the model's randomness (dropout, stochastic depth) of
(seed, epoch, step, rank). A run interrupted at any step and resumed replays the same batches with the same random
draws as one that never stopped; the optimizer, schedule, EMA and loss-scaler states come from the checkpoint.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler

from edgenet.atomic import check_writable_dir, write_text_atomic
from edgenet.checkpoint import Checkpoint, save_checkpoint
from edgenet.data import build_train_data, collate, eval_loader, numpy_batches, scan_class_folders, seed_for
from edgenet.errors import EdgenetError
from edgenet.evaluate import EvalResult, evaluate, torch_predict
from edgenet.models import EfficientNet
from edgenet.preprocess import Preprocess
from edgenet.training import distributed
from edgenet.training.config import TrainConfig, TrainResult, resume_config
from edgenet.training.ema import create_ema
from edgenet.training.recipes import build_optimizer, build_scheduler, default_warmup, get_recipe, scaled_lr
from edgenet.training.state import StopRequest, rng_state, set_rng_state


def train(cfg: TrainConfig, on_step=None, log=None) -> TrainResult:
    """Train (or resume) a run; ``on_step(trainer)`` is called after every optimizer step (tests use it)."""
    info = distributed.setup(cfg.device)
    try:
        return Trainer(cfg, info, on_step, log).run()
    finally:
        distributed.cleanup(info)


def with_config(model: EfficientNet, **overrides) -> EfficientNet:
    """The same weights in a network built with some :class:`ModelConfig` fields changed (None = keep)."""
    changes = {k: v for k, v in overrides.items() if v is not None and getattr(model.config, k) != v}
    if not changes:
        return model
    new = EfficientNet(replace(model.config, **changes))
    new.load_state_dict(model.state_dict())
    new.variant_name = getattr(model, "variant_name", "custom")
    new.default_resolution = getattr(model, "default_resolution", None)
    return new


def _to_logger(msg: str) -> None:
    """Without a ``log`` callback, messages go to the ``edgenet`` logger: the library itself never prints."""
    logging.getLogger("edgenet").info(msg)


class Trainer:
    def __init__(self, cfg: TrainConfig, info: distributed.DistInfo, on_step=None, log=None) -> None:
        self.cfg, self.info, self.on_step = cfg, info, on_step
        self._log = log or _to_logger

    def log(self, msg: str) -> None:
        if self.info.is_main:
            self._log(msg)

    # ---------------------------------------------------------------- setup
    def _setup(self) -> None:
        cfg, info = self.cfg, self.info
        self.out = Path(cfg.out)
        self.last_path, self.best_path = self.out / "last.pt", self.out / "best.pt"
        resume_ckpt = None
        if cfg.resume:
            if not self.last_path.is_file():
                raise EdgenetError(f"{self.out}: no last.pt to resume from; start the run without --resume")
            cfg, resume_ckpt = resume_config(cfg, self.last_path)
        elif self.last_path.exists():
            raise EdgenetError(
                f"{self.out}: already holds a run (last.pt); pass --resume to continue it, or choose another --out"
            )
        if cfg.data is None:
            raise EdgenetError("--data DIR is required: a folder of class folders of images")
        if info.is_main:
            check_writable_dir(self.out)  # now, not after the data and model are loaded
        if cfg.epochs < 1 or cfg.batch_size < 1:
            raise EdgenetError(f"--epochs {cfg.epochs} / --batch-size {cfg.batch_size}: both must be at least 1")
        if cfg.batch_size < 2:  # a traceback from torch's BatchNorm ("Expected more than 1 value per channel") before
            raise EdgenetError("--batch-size 1: batch norm needs at least 2 images a step; use --batch-size 2 or more")

        starts_from_weights = bool(cfg.weights or cfg.checkpoint or cfg.pretrained is not None)
        recipe = get_recipe(cfg.recipe or ("finetune" if starts_from_weights else "paper"))
        ema = recipe.ema_decay is not None if cfg.ema is None else cfg.ema
        cfg = replace(
            cfg,
            recipe=recipe.name,
            augment=cfg.augment or recipe.augment,
            ema=ema,
            warmup_epochs=default_warmup(recipe, cfg.epochs) if cfg.warmup_epochs is None else cfg.warmup_epochs,
            label_smoothing=recipe.label_smoothing if cfg.label_smoothing is None else cfg.label_smoothing,
            drop_path=recipe.drop_path_rate if cfg.drop_path is None else cfg.drop_path,
        )
        self.cfg, self.recipe = cfg, recipe

        classes = scan_class_folders(Path(cfg.data))
        if resume_ckpt is not None and classes != resume_ckpt.classes:
            raise EdgenetError(
                f"{cfg.data}: class folders {classes[:6]} differ from the run's {(resume_ckpt.classes or [])[:6]} "
                f"({len(classes)} vs {len(resume_ckpt.classes or [])}); resume needs the same class set"
            )
        if cfg.num_classes is not None and cfg.num_classes != len(classes):
            raise EdgenetError(f"--num-classes {cfg.num_classes}, but {cfg.data} has {len(classes)} class folders")

        torch.manual_seed(cfg.seed)  # the initial weights (and a new classifier) are a function of the seed
        model, self.model_name, self.preprocess = self._build_model(len(classes), resume_ckpt)
        self.data = build_train_data(
            cfg.data, self.preprocess, cfg.val, cfg.val_split, cfg.augment, cfg.min_crop, cfg.seed
        )
        self.classes = self.data.classes
        if resume_ckpt is None:  # said once the data checked out
            res = self.preprocess.resolution
            self.log(f"{self.model_name}: {self.source} weights, {len(self.classes)} classes, {res} px")

        self._place(model)
        self._optimization()

        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.best_top1: float | None = None
        self.partial = torch.zeros(4, dtype=torch.float64)  # loss sum, correct, images, skipped of this epoch
        self.last_metrics: dict = {}
        self.history: list[dict] = []  # every completed epoch's metrics: metrics.jsonl is rewritten from it
        self.skipped_val = 0
        if resume_ckpt is not None:
            self._load_train_state(resume_ckpt)

    def _place(self, model: EfficientNet) -> None:
        """The model on this process's device (channels-last and AMP on CUDA), its EMA, and its DDP wrapper."""
        cfg, info, recipe = self.cfg, self.info, self.recipe
        dev = info.device
        self.cuda = dev.type == "cuda"
        self.amp = cfg.amp and self.cuda
        if cfg.amp and not self.cuda:
            self.log("--amp applies to CUDA only; training in float32 on the CPU")
        self.amp_dtype = torch.bfloat16 if self.cuda and torch.cuda.is_bf16_supported() else torch.float16
        self.memory_format = torch.channels_last if self.cuda else torch.contiguous_format
        if self.cuda:
            torch.backends.cudnn.benchmark = True
        model = model.to(dev, memory_format=self.memory_format)
        if cfg.freeze_backbone:
            for name, p in model.named_parameters():
                p.requires_grad = name.startswith("classifier.")
        self.model = model
        self.ema = create_ema(model, recipe.ema_decay or 0.9999) if cfg.ema else None
        self.ddp = (
            nn.parallel.DistributedDataParallel(model, device_ids=[dev] if self.cuda else None)
            if info.enabled
            else model
        )

    def _optimization(self) -> None:
        """Steps per epoch, the learning rate (scaled to the global batch), optimizer, schedule, scaler, loss."""
        cfg, info, recipe, model = self.cfg, self.info, self.recipe, self.model
        self.global_batch = cfg.batch_size * info.world_size
        per_rank = len(self.data.train) // info.world_size
        self.steps_per_epoch = per_rank // cfg.batch_size
        if self.steps_per_epoch == 0:
            raise EdgenetError(
                f"{cfg.data}: {self.data.n_train} training images ({per_rank} per process) are fewer than "
                f"--batch-size {cfg.batch_size}; lower --batch-size"
            )
        self.lr = cfg.lr if cfg.lr is not None else scaled_lr(recipe, self.global_batch)
        self.optimizer = build_optimizer(recipe, model, self.lr)
        self.scheduler = build_scheduler(recipe, self.optimizer, self.steps_per_epoch, cfg.epochs, cfg.warmup_epochs)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.amp_dtype == torch.float16)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    def _build_model(self, num_classes: int, resume_ckpt: Checkpoint | None) -> tuple[EfficientNet, str, Preprocess]:
        cfg, recipe = self.cfg, self.recipe
        if resume_ckpt is not None:
            model = EfficientNet(resume_ckpt.config)
            model.variant_name = resume_ckpt.model_name
            model.load_state_dict(resume_ckpt.train_state["model"])
            return model, resume_ckpt.model_name, resume_ckpt.preprocess
        from edgenet.loading import load_from_spec

        from_ckpt = cfg.checkpoint is not None
        loaded = load_from_spec(
            model=cfg.model,
            checkpoint=cfg.checkpoint,
            weights=cfg.weights,
            weights_format=cfg.weights_format,
            pretrained=cfg.pretrained,
            num_classes=None if from_ckpt else num_classes,
            img_size=cfg.img_size,
            phi=cfg.phi,
        )
        model = loaded.model
        if loaded.weights == "random":
            # The reference initialises the classifier with U(±1/sqrt(classes)): sized for ImageNet's 1000 classes,
            # it gives logits of std ≈ 10 for a 3-class task and a loss that climbs before it falls. Zero weights
            # start every run at loss ln(classes) instead.
            nn.init.zeros_(model.classifier.weight)
        if from_ckpt and model.config.num_classes != num_classes:
            model.reset_classifier(num_classes)  # fine-tune a checkpoint to a new label set
        model = with_config(
            model, drop_path_rate=cfg.drop_path, dropout=cfg.dropout, bn_momentum=recipe.bn_momentum, act=cfg.act
        )
        self.source = loaded.weights
        return model, loaded.name, loaded.preprocess

    def _load_train_state(self, ckpt: Checkpoint) -> None:
        ts = ckpt.train_state
        try:
            self.optimizer.load_state_dict(ts["optimizer"])
            self.scheduler.load_state_dict(ts["scheduler"])
            self.scaler.load_state_dict(ts["scaler"])
            if self.ema is not None:  # the deployed weights are the EMA weights, its BN buffers as averaged
                self.ema.module.load_state_dict({**ckpt.state_dict, **ts["ema_buffers"]})
                self.ema.n_averaged.fill_(int(ts["ema_n_averaged"]))
        except (KeyError, ValueError, RuntimeError) as e:
            raise EdgenetError(f"{ckpt.path}: training state does not fit this run ({str(e)[:200]})") from None
        self.epoch, self.step_in_epoch, self.global_step = ts["epoch"], ts["step_in_epoch"], ts["global_step"]
        self.best_top1 = ts.get("best_top1")
        self.partial = ts["epoch_stats"].clone()
        self.last_metrics = ckpt.metrics
        self.history = list(ts.get("history", []))
        if ts.get("world_size", 1) != self.info.world_size:
            self.log(f"resuming on {self.info.world_size} processes; the run used {ts['world_size']}")
        set_rng_state(ts["rng"])
        self.log(f"resuming {self.out} at epoch {self.epoch + 1}, step {self.step_in_epoch}/{self.steps_per_epoch}")

    # ---------------------------------------------------------------- checkpoints
    def _deploy_model(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.model

    def _recalibrated(self) -> nn.Module:
        """A copy of the deployed weights whose batch-norm statistics are re-estimated on training images.

        Running statistics with the paper's momentum (0.99 in TF terms) average over ~100 steps of weights that
        keep changing: after a short run they no longer match the network, and a model that trains fine predicts one
        class in eval mode. ``torch.optim.swa_utils.update_bn`` recomputes them (exact averages) over ``bn_recal``
        batches with the deployment preprocessing — the same fix SWA and EMA weights need. The images are drawn from
        (seed, epoch), so a resumed run re-estimates exactly the same statistics.
        """
        deploy = self._deploy_model()
        n, ds = self.cfg.bn_recal, self.data.train_plain
        if not n or ds is None:
            return deploy
        g = torch.Generator().manual_seed(seed_for(self.cfg.seed, self.epoch, 0xB4))
        idx = torch.randperm(len(ds), generator=g)[: n * self.cfg.batch_size].tolist()
        if len(idx) < 2 or self.cfg.batch_size < 2:  # batch norm needs two values per channel to estimate anything
            self.log("batch-norm re-estimation skipped: it needs batches of at least 2 images")
            return deploy
        model = copy.deepcopy(deploy)
        loader = eval_loader(Subset(ds, idx), self.cfg.batch_size, self.cfg.workers, self.cuda)
        dev, fmt = self.info.device, self.memory_format
        # a last batch of one image (or one left after unreadable ones) has a single value per channel at a 1×1
        # feature map, which batch norm refuses: leave it out, the statistics are exact averages of the others
        used = 0

        def batches():
            nonlocal used
            for b in loader:
                if b.x is not None and len(b.x) > 1:
                    used += 1
                    yield b.x.to(dev).contiguous(memory_format=fmt)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_for(self.cfg.seed, self.epoch, 0xB5))  # stochastic depth is active meanwhile
            update_bn(batches(), model)
        if not used:  # every image unreadable: update_bn reset the statistics to nothing; keep the trained ones
            self.log("batch-norm re-estimation skipped: no readable batch of 2 or more images")
            return deploy
        return model.eval()

    def _checkpoint(self, with_state: bool, deploy: nn.Module | None = None) -> Checkpoint:
        state = None
        if with_state:
            state = {
                "config": {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in asdict(self.cfg).items()},
                "epoch": self.epoch,
                "step_in_epoch": self.step_in_epoch,
                "global_step": self.global_step,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "ema_n_averaged": int(self.ema.n_averaged) if self.ema is not None else None,
                "ema_buffers": {k: v.detach().cpu() for k, v in self.ema.module.named_buffers()}
                if self.ema is not None
                else None,
                "epoch_stats": self.partial.clone(),
                "best_top1": self.best_top1,
                "history": self.history,
                "rng": rng_state(),
                "world_size": self.info.world_size,
            }
        deploy = deploy or self._deploy_model()
        return Checkpoint(
            model_name=self.model_name,
            config=self.model.config,
            preprocess=self.preprocess,
            state_dict={k: v.detach().cpu() for k, v in deploy.state_dict().items()},
            classes=self.classes,
            metrics=dict(self.last_metrics),
            train_state=state,
        )

    def _save(self, path: Path, with_state: bool, deploy: nn.Module | None = None) -> None:
        if not self.info.is_main:
            return
        try:
            save_checkpoint(path, self._checkpoint(with_state, deploy))
        except (OSError, RuntimeError) as e:
            raise EdgenetError(
                f"{path}: could not write the checkpoint ({str(e)[:160]}); the previous one is kept", exit_code=1
            ) from None

    # ---------------------------------------------------------------- loop
    def _loader(self, epoch: int, start_step: int) -> DataLoader:
        """This rank's batches of ``epoch`` from ``start_step`` on: the order depends only on (seed, epoch)."""
        ds, B = self.data.train, self.cfg.batch_size
        base = ds.dataset if isinstance(ds, Subset) else ds
        base.epoch = epoch
        sampler = DistributedSampler(
            ds, self.info.world_size, self.info.rank, shuffle=True, seed=self.cfg.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        indices = list(sampler)[start_step * B : self.steps_per_epoch * B]
        return DataLoader(
            ds,
            batch_size=B,
            sampler=indices,
            num_workers=self.cfg.workers,
            collate_fn=collate,
            pin_memory=self.cuda,
            drop_last=True,
        )

    def _set_train_mode(self) -> None:
        self.model.train()
        if self.cfg.freeze_backbone:  # frozen layers keep their batch-norm statistics and skip stochastic depth
            for part in (self.model.stem, self.model.stages, self.model.head):
                part.eval()

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        x = x.to(self.info.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        y = y.to(self.info.device, non_blocking=True)
        with torch.autocast(self.info.device.type, dtype=self.amp_dtype, enabled=self.amp):
            logits = self.ddp(x)
            loss = self.criterion(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return float(loss.detach()), int((logits.argmax(1) == y).sum())

    def _run_epoch(self, stop: StopRequest) -> bool:
        """Train the rest of the current epoch; False when a stop was requested (the position is saved)."""
        from tqdm import tqdm

        cfg, info, e = self.cfg, self.info, self.epoch
        self._set_train_mode()
        loader = iter(self._loader(e, self.step_in_epoch))
        bar = tqdm(
            total=self.steps_per_epoch,
            initial=self.step_in_epoch,
            desc=f"epoch {e + 1}/{cfg.epochs}",
            unit="step",
            file=sys.stderr,
            disable=not (cfg.progress and info.is_main),
            dynamic_ncols=True,
            leave=False,
        )
        t0, seen = time.perf_counter(), 0
        try:
            while self.step_in_epoch < self.steps_per_epoch:
                try:
                    batch = None if stop.requested else next(loader)
                except Exception:  # a worker killed by the same Ctrl-C; anything else is re-raised
                    if not stop.requested:
                        raise
                # a batch left with fewer than 2 readable images cannot train batch norm: passed over like an empty one
                empty = batch is None or batch.x is None or len(batch.x) < 2
                flags = torch.tensor([float(stop.requested), float(empty)])
                flags = distributed.all_reduce_sum(flags, info)
                if flags[0] > 0:
                    return False
                if batch.skipped:
                    self.partial[3] += len(batch.skipped)
                    if self.partial[3] <= 5:
                        self.log(f"skipped unreadable or oversized image(s): {', '.join(batch.skipped)}")
                if flags[1] == 0:  # a batch whose images were (almost) all unreadable, on some rank, is passed over
                    torch.manual_seed(seed_for(cfg.seed, e, self.step_in_epoch, info.rank))  # dropout, drop-path
                    loss, correct = self._train_step(batch.x, batch.y)
                    if not math.isfinite(loss):
                        raise EdgenetError(
                            f"loss is {loss} at epoch {e + 1}, step {self.step_in_epoch}: training diverged; "
                            f"lower --lr (now {self.lr:g}) or check the data",
                            exit_code=1,
                        )
                    n = len(batch.y)
                    self.partial[:3] += torch.tensor([loss * n, correct, n], dtype=torch.float64)
                    seen += n
                self.scheduler.step()
                self.step_in_epoch += 1
                self.global_step += 1
                bar.update()
                p = self.partial
                bar.set_postfix(
                    loss=f"{p[0] / max(p[2], 1):.3f}",
                    acc=f"{p[1] / max(p[2], 1):.3f}",
                    lr=f"{self.scheduler.get_last_lr()[0]:.2e}",
                    img_s=f"{seen * info.world_size / (time.perf_counter() - t0):.0f}",
                    refresh=False,
                )
                if self.on_step is not None:
                    self.on_step(self)
        finally:
            bar.close()
        self.epoch_seconds = time.perf_counter() - t0
        self.epoch_images = seen
        return True

    def _validate(self, deploy: nn.Module) -> EvalResult | None:
        if self.data.val is None:
            return None
        info, val = self.info, self.data.val
        shard = Subset(val, range(info.rank, len(val), info.world_size))  # no padding: every image counted once
        loader = eval_loader(shard, self.cfg.batch_size, self.cfg.workers, self.cuda)
        predict = torch_predict(deploy, str(info.device), self.amp, self.cuda)
        res = evaluate(numpy_batches(loader), predict, self.classes)
        if info.enabled:
            counts = torch.tensor([res.top5_hits, res.skipped, res.predict_s], dtype=torch.float64)
            counts = distributed.all_reduce_sum(counts, info)
            cm = distributed.all_reduce_sum(torch.tensor(res.confusion, dtype=torch.int64), info)
            res = EvalResult.from_counts(
                cm.numpy(), int(counts[0]), self.classes, float(counts[2]) / info.world_size, res.wall_s, int(counts[1])
            )
        return res

    def _end_epoch(self) -> None:
        info = self.info
        totals = distributed.all_reduce_sum(self.partial, info)
        images_s = distributed.all_reduce_sum(torch.tensor([self.epoch_images], dtype=torch.float64), info)[0]
        try:
            deploy = self._recalibrated()
            res = self._validate(deploy)
        except BaseException:  # the epoch's steps are done: keep them in last.pt, resumable, whatever failed here
            self._save(self.last_path, with_state=True)
            raise
        self.skipped_val = res.skipped if res is not None else 0
        self.epoch, self.step_in_epoch = self.epoch + 1, 0
        m = {
            "epoch": self.epoch,
            "step": self.global_step,
            "lr": self.scheduler.get_last_lr()[0],
            "train_loss": float(totals[0] / max(totals[2], 1)),
            "train_top1": float(totals[1] / max(totals[2], 1)),
            "train_images": int(totals[2]),
            "train_images_per_s": float(images_s / max(self.epoch_seconds, 1e-9)),
            "epoch_s": round(self.epoch_seconds, 3),
            "skipped_train": int(totals[3]),
            "val_top1": res.top1 if res else None,
            "val_top5": res.top5 if res else None,
            "val_images": res.n if res else 0,
            "skipped_val": self.skipped_val,
            "weights": "ema" if self.ema is not None else "raw",
            "bn_recal_batches": self.cfg.bn_recal,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.last_metrics = m
        self.history.append(m)
        self.partial = torch.zeros(4, dtype=torch.float64)
        improved = res is not None and (self.best_top1 is None or res.top1 > self.best_top1)
        if improved:
            self.best_top1 = res.top1
        self._save(self.last_path, with_state=True, deploy=deploy)
        if improved:
            self._save(self.best_path, with_state=False, deploy=deploy)
        if info.is_main:  # from the history in last.pt, so the two always agree
            write_text_atomic(self.out / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in self.history))
        val = f", val top-1 {res.top1:.4f} top-{res.top5_k} {res.top5:.4f}" if res else ""
        self.log(
            f"epoch {self.epoch}/{self.cfg.epochs}: loss {m['train_loss']:.4f}, train top-1 {m['train_top1']:.4f}"
            f"{val}, {m['train_images_per_s']:.1f} img/s" + (f", {m['skipped_train']} unreadable" if totals[3] else "")
        )
        distributed.barrier(info)

    def run(self) -> TrainResult:
        self._setup()
        cfg = self.cfg
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.log(
            f"recipe {self.recipe.name}: {self.recipe.optimizer}, lr {self.lr:g} (global batch {self.global_batch}), "
            f"{self.data.n_train} train / {self.data.n_val} val images, {self.steps_per_epoch} steps per epoch"
        )
        interrupted = False
        with StopRequest(self.log) as stop:
            while self.epoch < cfg.epochs:
                if not self._run_epoch(stop):
                    interrupted = True
                    self._save(self.last_path, with_state=True)
                    self.log(
                        f"stopped at epoch {self.epoch + 1}, step {self.step_in_epoch}; saved {self.last_path} "
                        f"(continue with --resume --out {self.out})"
                    )
                    break
                self._end_epoch()
                if stop.requested:  # the signal came during the epoch's last step or validation
                    interrupted = self.epoch < cfg.epochs
                    break
        return TrainResult(
            out=str(self.out),
            model=self.model_name,
            recipe=self.recipe.name,
            classes=self.classes,
            epochs_done=self.epoch,
            steps=self.global_step,
            interrupted=interrupted,
            last=str(self.last_path),
            best=str(self.best_path) if self.best_top1 is not None else None,
            best_val_top1=self.best_top1,
            metrics=self.last_metrics,
            skipped_train=int(self.last_metrics.get("skipped_train", 0)),
            skipped_val=self.skipped_val,
            signal=stop.signal if interrupted else None,
        )
