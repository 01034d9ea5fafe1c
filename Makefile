# LesionLens: `make run` starts the app on the shipped model, `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= ../shared/data
# The backbone's sources, as the shipped model and every held-out run were trained. isic2020 is
# kept out of backbone training, so every run, shipped or held out, is scored on one set of clinics
# and cameras it never saw; the shipped head (`make ship`) learns from all four, isic2020 included
# (README, "Retraining").
SOURCES := --data $(DATA)/isic-9class --data $(DATA)/ham10000 --data $(DATA)/isic2017
STAMP_APP  := $(VENV)/.stamp-app
STAMP_FULL := $(VENV)/.stamp-full

.PHONY: install run test test-fast lint train ship bundle bench soak screenshots clean experiments

# A clinic PC gets only the app's dependencies (no TensorFlow).
$(STAMP_APP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[app]"
	touch $@

# Developers and CI get everything: app, trainer, tests, bundler.
$(STAMP_FULL): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[app,train,dev]"
	touch $@ $(STAMP_APP)

install: $(STAMP_FULL)

# On Linux, python -m desktop first checks Qt's X11 system libraries and prints the
# `sudo apt install ...` line for any that are missing (desktop/preflight.py).
run: $(STAMP_APP)
	$(PY) -m desktop

test: $(STAMP_FULL)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# The day-to-day loop (under a minute): everything but the tests marked slow (training,
# bundle, benchmarks, many processes). `make test` and CI still run everything.
test-fast: $(STAMP_FULL)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not slow"

# Style, then the layers declared in pyproject.toml ([tool.importlinter]), then sizes: no new
# function over 80 lines or module over 500, and the listed ones do not grow (devtools/sizes.py).
lint: $(STAMP_FULL)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo
	$(PY) -m devtools.sizes

# The shipped recipe: the trainer's defaults and AugMix's consistency term at weight 4 (each step
# costs two passes, about twice the training time: chosen on the held-out origins for steadier
# classes under a re-take at no measured cost, docs/experiments.md). Quick runs and tests keep it off.
RECIPE := --consistency 4

# The shipped model from the four sources, then the same recipe with isic2017 held out (the
# out-of-source check);
# export puts both into the card and docs/model-report.md.
train: $(STAMP_FULL)
	$(PY) -m trainer $(SOURCES) $(RECIPE) --out runs/shipped
	$(PY) -m trainer $(SOURCES) $(RECIPE) --out runs/holdout-isic2017 --holdout-source isic2017
	$(PY) -m trainer export --run runs/shipped --to assets/ --report docs/ --out-of-source runs/holdout-isic2017
	$(PY) -m docs.generate

bundle: $(STAMP_FULL)
	$(PY) -m PyInstaller --noconfirm --clean build.spec

# Is the verdict stable under a re-take? Held-out isic2020 images (and a sample of the training
# sources) re-captured nine ways (JPEG, size, rotation, mirror, light, white balance, crop, blur,
# phone): alert flips, class and assessability changes (benchmarks/robustness.json, minutes).
.PHONY: robustness
robustness: $(STAMP_APP)
	$(PY) -m benchmarks.robustness && $(PY) -m docs.generate

# Speed and size against the targets; adapt on 400 images (<= 60 s, <= 1 GiB) beside them.
bench: $(STAMP_FULL)
	$(PY) -m benchmarks.run && $(PY) -m benchmarks.adapt_speed && $(PY) -m docs.generate

# "Is this dermoscopy": view-mean features of every data image (minutes, cached in
# runs/features/shipped), the two-sided decision fitted and measured, written into the card.
# A clinic's own limit (adapt --clinic-limit), nested with each origin as the clinic (~40 min;
# the fits are cached under runs/clinic-scope, so a re-run on the same rows takes seconds).
.PHONY: clinic-scope
clinic-scope: $(STAMP_FULL)
	$(PY) -m benchmarks.origin_features --model assets/model.tflite --out runs/features/shipped
	$(PY) -m benchmarks.clinic_scope && $(PY) -m docs.generate

# The general-purpose network the decision also reads goes in first (ImageNet Lite0, int8 calibrated on
# 100 images of each source and of the clinical photos; seconds), so the rows carry its features.
# The gate (benchmarks.scope_gate) goes in last: benchmarks.scope replaces the whole scope block.
# benchmarks.scope_topics splits the out-of-fold figures (the --scores file): photos by topic, pictures by kind.
CALIBRATE := $(foreach d,isic-9class ham10000 isic2017 isic2020 clinical-photos,--calibrate $(DATA)/$(d))
.PHONY: scope
scope: $(STAMP_FULL)
	$(PY) -m trainer general --card assets/model.json --size 128 $(CALIBRATE)
	$(PY) -m benchmarks.origin_features --model assets/model.tflite --out runs/features/shipped
	$(PY) -m benchmarks.scope --rows runs/features/shipped/rows.npz --write-card assets/model.json \
		--scores runs/features/shipped/scope_scores.npz; \
		$(PY) -m benchmarks.scope_gate --rows runs/features/shipped/rows.npz \
			--write-card assets/model.json && $(PY) -m benchmarks.scope_topics && \
			$(PY) -m docs.generate

# kill -9 the case store 30 times per kind of write (add, delete, import, reclassify) in a
# temp folder; prints "visits lost: 0, photos lost: 0" when nothing committed was lost.
soak: $(STAMP_APP)
	$(PY) -m benchmarks.history_soak --kills 30

# The lesion-history dialogs on a 1366x768 screen at 100 % and 150 % (a real X server,
# Xvfb: apt install xvfb), into docs/screenshots/; fails when a dialog or a button is off it.
screenshots: $(STAMP_FULL)
	for scale in 1 1.5; do \
		xvfb-run -a -s "-screen 0 1366x768x24" $(PY) -m docs.history_screenshots --scale $$scale || exit 1; \
	done

# The shipped card on top of `make train`'s export, as chosen on the held-out origins
# (docs/experiments.md): the network's last layer blended with a head refitted across every source
# and on a random re-capture of each image (its out-of-source figures from the held-out refits of
# the shipped recipe's runs: isic2020, which no backbone trains on, and each runs/holdout-<origin>
# present; a run that finishes later: make held-out-refits, then refit_head --update-out-of-source
# and the seal), new operating points, the seal, the two-sided scope, then how often a re-take
# changes the alert near its threshold (the card's alert.borderline, benchmarks/robustness.json;
# its range over the held-out runs present, other_origins, from benchmarks.borderline), and how
# often a blurred copy kept the alert (the card's quality.soft_focus, benchmarks.blur_limit).
# `make train ship` rebuilds what assets/ holds.
ship: $(STAMP_FULL)
	$(PY) -m benchmarks.origin_features --model assets/model.tflite --out runs/features/shipped
	$(PY) -m benchmarks.recapture_features --model assets/model.tflite \
		--out runs/features/shipped --fixed isic2020
	$(PY) -m benchmarks.refit_head --network-model
	$(PY) -m benchmarks.refit_head --rows runs/features/shipped/rows.npz \
		--split runs/shipped/split.json --holdout isic2020 \
		--model runs/network/model.tflite --recaptured
	$(MAKE) held-out-refits
	$(PY) -m benchmarks.refit_head --rows runs/features/shipped/rows.npz \
		--split runs/shipped/split.json --write-card --ship blend --recaptured
	$(PY) -m trainer operating-points --model assets/model.tflite --data-root $(DATA) \
		--run runs/shipped-operating-points --write
	$(PY) -m desktop.seal --seal assets/model.tflite
	$(MAKE) scope
	$(PY) -m benchmarks.robustness --write-card assets/model.json
	$(PY) -m benchmarks.blur_limit --write-card assets/model.json
	if ls runs/features/holdout-*/recaptures.npz >/dev/null 2>&1; then \
		$(PY) -m benchmarks.borderline --write-card assets/model.json; fi
	$(PY) -m docs.generate

clean:
	rm -rf build dist .pytest_cache .ruff_cache .import_linter_cache .grimp_cache

# The origins held out of a run each for the yardstick (isic2020 needs none: no backbone trains on it).
HELD_OUT ?= rosendahl vienna_dias vidir_modern vidir_molemax isic2017 isic-9class

# Each held-out run present (make train's isic2017, make holdouts' others): its features, the
# fixed re-captures of its origin, and the head refitted without that origin (benchmarks/
# refit_head.json, each refit with its run's recipe: the card quotes only the shipped recipe's).
.PHONY: held-out-refits
held-out-refits: $(STAMP_FULL)
	for o in $(HELD_OUT); do test -f runs/holdout-$$o/model.tflite || continue; \
		$(PY) -m benchmarks.origin_features --model runs/holdout-$$o/model.tflite \
			--out runs/features/holdout-$$o && \
		$(PY) -m benchmarks.recapture_features --model runs/holdout-$$o/model.tflite \
			--out runs/features/holdout-$$o --fixed $$o && \
		$(PY) -m benchmarks.refit_head --rows runs/features/holdout-$$o/rows.npz \
			--split runs/holdout-$$o/split.json --model runs/holdout-$$o/model.tflite \
			--holdout $$o --recaptured || exit 1; done

# The yardstick's runs: the shipped recipe with each origin of HELD_OUT held out in turn (an
# existing run is kept, so it resumes; about 50 min each on two cores with the consistency term).
.PHONY: holdouts
holdouts: $(STAMP_FULL)
	for o in $(HELD_OUT); do test -f runs/holdout-$$o/model.tflite || $(PY) -m trainer \
		$(SOURCES) $(RECIPE) --out runs/holdout-$$o --holdout-source $$o || exit 1; done

# The held-out-origin experiments behind docs/experiments.md (needs ../shared/data and the
# runs/holdout-<origin> runs; long): each model's features over every origin, the refitted-head
# recipe with each origin held out, clinic adaptation curves, the yardstick; then the docs.
experiments: $(STAMP_FULL)
	$(PY) -m benchmarks.origin_features --model assets/model.tflite --out runs/features/shipped
	$(PY) -m benchmarks.refit_head --network-model
	$(PY) -m benchmarks.recapture_features --model assets/model.tflite \
		--out runs/features/shipped --fixed isic2020
	$(PY) -m benchmarks.refit_head --rows runs/features/shipped/rows.npz \
		--split runs/shipped-operating-points/split.json --holdout isic2020 \
		--model runs/network/model.tflite --recaptured
	$(MAKE) held-out-refits
	for o in $(HELD_OUT); do test -f runs/holdout-$$o/model.tflite || continue; \
		$(PY) -m benchmarks.heads --rows runs/features/holdout-$$o/rows.npz --holdout $$o \
			--model runs/holdout-$$o/model.tflite || exit 1; done
	$(PY) -m benchmarks.heads --rows runs/features/shipped/rows.npz --holdout isic2020 \
		--model runs/network/model.tflite
	$(PY) -m benchmarks.recapture_head
	$(PY) -m benchmarks.adaptation
	$(PY) -m benchmarks.yardstick
	$(PY) -m benchmarks.seed_source
	$(PY) -m docs.generate

# The experiments that are not part of making the product (recipe-*, head and scope probes).
include benchmarks/experiments.mk
