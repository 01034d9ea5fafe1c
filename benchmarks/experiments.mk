# The experiments behind docs/experiments.md and docs/scope.md that are not part of making the
# product (make train, ship, holdouts and experiments stay in the Makefile, which includes this
# file): each target measures one idea and writes the benchmark file its docs section reads.
# Most need ../shared/data and runs under runs/ that only long trainings make.

# Which parts of the descriptor a refitted head reads, per origin held out (~5 min; needs the
# held-out runs' feature rows of `make experiments`).
.PHONY: head-inputs
head-inputs: $(STAMP_FULL)
	$(PY) -m benchmarks.head_inputs && $(PY) -m docs.generate

# Is an ensemble of the vidir_modern-held-out backbones better than each (the teacher a distillation
# would copy)? Minutes; needs those runs and their feature rows (the recipe-* targets below make them).
ENSEMBLE_RUNS ?= colour-holdout-vidir_modern copies-holdout-vidir_modern \
	size160-holdout-vidir_modern consistency-holdout-vidir_modern
.PHONY: ensemble
ensemble: $(STAMP_FULL)
	$(PY) -m benchmarks.ensemble vidir_modern $(ENSEMBLE_RUNS) && $(PY) -m docs.generate

# How much of the blended head should be the network's own? A sweep over every held-out run with its
# origin's fixed re-captures under runs/ (minutes; the recipe-* targets below make them).
.PHONY: blend-weight
blend-weight: $(STAMP_FULL)
	$(PY) -m benchmarks.blend_weight && $(PY) -m docs.generate

# The card's "borderline" figures (re-takes that changed the alert near its threshold) on every
# held-out run with fixed re-captures of its origin: do they hold beyond isic2020? (minutes)
.PHONY: borderline
borderline: $(STAMP_FULL)
	$(PY) -m benchmarks.borderline && $(PY) -m docs.generate

# Where "the image is blurred" starts: real dermoscopy blurred by growing radii, each copy's
# sharpness beside whether it kept its sharp original's class and alert (desktop.quality's
# MIN_SHARPNESS and SOFT_SHARPNESS are read from it; a few minutes).
.PHONY: blur-limit
blur-limit: $(STAMP_FULL)
	$(PY) -m benchmarks.blur_limit --write-card assets/model.json && $(PY) -m docs.generate

# Eight more test-time views at a second scale (the central 85 %, or the photo halved): steadier
# under a re-take? The shipped model on an isic2020 sample (about 10 min).
.PHONY: scale-views
scale-views: $(STAMP_FULL)
	$(PY) -m benchmarks.scale_views && $(PY) -m docs.generate

# Pseudo-labels on half of each held-out origin's images, scored on the other half (the cheapest
# form of #26's pseudo-labels: at the head, no training). Minutes; needs held-out runs' feature rows.
.PHONY: pseudo-labels
pseudo-labels: $(STAMP_FULL)
	$(PY) -m benchmarks.pseudo_labels && $(PY) -m docs.generate

# Origins weighed equally, group DRO, or each origin's features aligned: the refitted head per
# origin held out (minutes; needs the held-out runs' feature rows of `make experiments`).
.PHONY: head-weighting
head-weighting: $(STAMP_FULL)
	$(PY) -m benchmarks.head_weighting && $(PY) -m docs.generate

# A candidate training recipe against the shipped one on a proxy of held-out origins (the pair
# that ranks head-level recipes most like all seven, plus isic2020 which no run trains on). One
# training at a time (15-60 min each; an existing run is kept), then each run's features, the
# fixed re-captures of its origin, and the comparison. $(call recipe_runs,NAME,TRAINER FLAGS)
# The targets below were measured on the recipe shipped before weight 4 (the trainer's defaults)
# against its runs; runs/holdout-<o> are now weight-4 runs (make holdouts), so a new candidate's
# flags are $(RECIPE) plus its own.
PROXY_HELD_OUT ?= vidir_modern isic-9class
define recipe_runs
	for o in $(PROXY_HELD_OUT); do \
		test -f runs/$(1)-holdout-$$o/model.tflite || $(PY) -m trainer $(SOURCES) \
			--out runs/$(1)-holdout-$$o --holdout-source $$o $(2) || exit 1; \
		$(PY) -m benchmarks.origin_features --model runs/$(1)-holdout-$$o/model.tflite \
			--out runs/features/$(1)-holdout-$$o && \
		$(PY) -m benchmarks.recapture_features --model runs/$(1)-holdout-$$o/model.tflite \
			--out runs/features/$(1)-holdout-$$o --draws 0 --fixed $$o || exit 1; done
	$(PY) -m benchmarks.recipe_compare $(1) $(PROXY_HELD_OUT) && $(PY) -m docs.generate
endef

# A wider random zoom (not adopted, docs/experiments.md).
.PHONY: recipe-zoom
recipe-zoom: $(STAMP_FULL)
	$(call recipe_runs,zoom,--zoom-in 0.45 --zoom-out 0.25)

# The stem and the first 5 Lite0 blocks kept at their ImageNet weights (docs/experiments.md).
.PHONY: recipe-freeze5
recipe-freeze5: $(STAMP_FULL)
	$(call recipe_runs,freeze5,--freeze-blocks 5)

# Colour jitter 1.75 times as wide (brightness, contrast, saturation, hue; docs/experiments.md).
.PHONY: recipe-colour
recipe-colour: $(STAMP_FULL)
	$(call recipe_runs,colour,--colour-strength 1.75)

# Every source's copy of a training image, not only the kept one (docs/experiments.md). With
# isic-9class held out no copy is left to add (its lesions' copies go with it): isic2017 and rosendahl instead.
.PHONY: recipe-copies
recipe-copies: PROXY_HELD_OUT = vidir_modern isic2017 rosendahl
recipe-copies: $(STAMP_FULL)
	$(call recipe_runs,copies,--all-copies)

# A larger input, 160 px rather than 128 (each view costs about (160/128)^2 = 1.6 times as much).
.PHONY: recipe-size160
recipe-size160: $(STAMP_FULL)
	$(call recipe_runs,size160,--image-size 160)

# AugMix's consistency term, weight 12 (two augmented copies per image; each step costs twice as much).
.PHONY: recipe-consistency
recipe-consistency: $(STAMP_FULL)
	$(call recipe_runs,consistency,--consistency 12)

# The same term at a third of the weight, 4: does the steadiness survive without the accuracy loss?
.PHONY: recipe-consistency4
recipe-consistency4: $(STAMP_FULL)
	$(call recipe_runs,consistency4,--consistency 4)

# EfficientNet-Lite1 cut where Lite0's 11 blocks end (1/16 resolution, 112 channels), deeper
# per stage: the backbone issue #26 lists and no run had tried.
.PHONY: recipe-lite1
recipe-lite1: $(STAMP_FULL)
	$(call recipe_runs,lite1,--arch lite1 --lite-blocks 15)

# A fixed Gaussian blur (sigma 1 model-input pixel) inside the backbone, after every augmentation
# and on every view: do re-takes move the answer less, at what cost to held-out melanoma AUC?
.PHONY: recipe-lowpass
recipe-lowpass: $(STAMP_FULL)
	$(call recipe_runs,lowpass,--low-pass 1.0)

# The same at half the strength (sigma 0.5): less smoothing, more of the detail kept?
.PHONY: recipe-lowpass05
recipe-lowpass05: $(STAMP_FULL)
	$(call recipe_runs,lowpass05,--low-pass 0.5)

# The shipped recipe itself with another seed (split, balancing and training): how far one seed
# moves the proxy's baseline, against which every candidate above is read.
.PHONY: recipe-seed2
recipe-seed2: $(STAMP_FULL)
	$(call recipe_runs,seed2,--seed 2)

# The consistency term at weight 4 with the second seed: its full pass tied the shipped recipe
# on one seed each. Paired seed by seed with the shipped recipe (recipe-seed2 trains its seed 2).
.PHONY: recipe-consistency4-seed2
recipe-consistency4-seed2: $(STAMP_FULL)
	$(call recipe_runs,consistency4-seed2,--consistency 4 --seed 2)
	$(PY) -m benchmarks.recipe_seeds consistency4 && $(PY) -m docs.generate

# The exposure levelled with the colour (--exposure-level 169, typical of the training
# images): does a brighter or darker re-take move the answer less? At seed 2 it pairs with
# recipe-seed2 (the shipped recipe with the same split, balancing and start); at the default
# seed with the shipped recipe's own runs.
.PHONY: recipe-level-seed2 recipe-level
recipe-level-seed2: $(STAMP_FULL)
	$(call recipe_runs,level-seed2,--exposure-level 169 --seed 2)
	$(PY) -m benchmarks.recipe_seeds level && $(PY) -m docs.generate
recipe-level: $(STAMP_FULL)
	$(call recipe_runs,level,--exposure-level 169)
	$(PY) -m benchmarks.recipe_seeds level && $(PY) -m docs.generate

# Every origin weighing the same in the loss, and within it every class (--origin-balance): does
# a backbone that learns HAM10000's big clinics no more than the small origins read an unseen
# dermatoscope better? At the default seed it pairs with the shipped recipe's own runs.
.PHONY: recipe-origins
recipe-origins: $(STAMP_FULL)
	$(call recipe_runs,origins,$(RECIPE) --origin-balance)

# The model sees the central 80 % of the square (--crop 0.8; the card tells the app to crop the
# same way): most of a dermatoscope's rim, vignette and ruler gone, one origin's look less. Tried
# on isic-9class alone before the multi-source runs; here on the proxy of held-out origins.
.PHONY: recipe-crop80
recipe-crop80: $(STAMP_FULL)
	$(call recipe_runs,crop80,$(RECIPE) --crop 0.8)

# A worst-origin objective (online group DRO, the paper's step 0.01): the loss leans, step by
# step, on the origins the network fits worst. Issue #26 names it beside origin-balanced weights.
.PHONY: recipe-dro
recipe-dro: $(STAMP_FULL)
	$(call recipe_runs,dro,$(RECIPE) --group-dro 0.01)

# The same at a tenth of the step: at 0.01 the weight settled on one origin (rosendahl) within
# the first epochs; does a gentler shift keep the gain without the classes' loss?
.PHONY: recipe-dro001
recipe-dro001: $(STAMP_FULL)
	$(call recipe_runs,dro001,$(RECIPE) --group-dro 0.001)

# The app's own re-capture benchmark on the level run and on the shipped recipe's run of the
# same seed (the same isic2020 and training-source images; about 5 min each).
.PHONY: robustness-level
robustness-level: $(STAMP_FULL)
	$(PY) -m benchmarks.robustness --model runs/seed2-holdout-vidir_modern/model.tflite \
		--out benchmarks/robustness_seed2.json
	$(PY) -m benchmarks.robustness --model runs/level-seed2-holdout-vidir_modern/model.tflite \
		--out benchmarks/robustness_level_seed2.json
	$(PY) -m docs.generate

# A candidate through the full pass (hours; an existing run or feature file is kept): each origin
# of ORIGINS held out in turn, and the backbone with none held out (for isic2020, which no backbone
# trains on), then each run's features and the comparison with the shipped recipe's own full pass.
# $(call recipe_full,NAME,TRAINER FLAGS,ORIGINS,EXTRA recipe_compare FLAGS)
define recipe_full
	for o in $(3) shipped; do \
		if [ $$o = shipped ]; then run=$(1)-shipped; hold=; \
		else run=$(1)-holdout-$$o; hold="--holdout-source $$o"; fi; \
		test -f runs/$$run/model.tflite || $(PY) -m trainer $(SOURCES) \
			--out runs/$$run $$hold $(2) || exit 1; \
		test -f runs/features/$$run/rows.npz || $(PY) -m benchmarks.origin_features \
			--model runs/$$run/model.tflite --out runs/features/$$run || exit 1; done
	$(PY) -m benchmarks.recipe_compare $(1) --full $(4) && $(PY) -m docs.generate
endef

# The copies recipe through the full pass: with isic-9class held out the run is the shipped
# recipe's own (no copy is left to add), so that origin takes the shipped figures.
COPIES_FULL := vidir_modern isic2017 rosendahl vidir_molemax vienna_dias
.PHONY: recipe-copies-full
recipe-copies-full: $(STAMP_FULL)
	$(call recipe_full,copies,--all-copies,$(COPIES_FULL),--same isic-9class)

# The consistency term at weight 4 through the full pass (every origin but isic2020 held out).
.PHONY: recipe-consistency4-full
recipe-consistency4-full: $(STAMP_FULL)
	$(call recipe_full,consistency4,--consistency 4,$(HELD_OUT))

# Does a head fitted also on re-captured copies hold its verdict under a re-take, and lose
# nothing on an origin it never saw? Per model, the features of random and fixed re-captures
# (about 10 min each; needs the runs of `make experiments`), then the heads (seconds).
.PHONY: recapture-head
recapture-head: $(STAMP_FULL)
	$(PY) -m benchmarks.recapture_features --model assets/model.tflite \
		--out runs/features/shipped --fixed isic2020
	for o in $(HELD_OUT); do test -f runs/holdout-$$o/model.tflite || continue; \
		$(PY) -m benchmarks.recapture_features --model runs/holdout-$$o/model.tflite \
			--out runs/features/holdout-$$o --fixed $$o || exit 1; done
	$(PY) -m benchmarks.recapture_head && $(PY) -m docs.generate

# The probe that compared the decision's inputs with and without ImageNet Lite0's features
# (docs/scope.md; the shipped decision reads both, see make scope). Needs runs/features/shipped;
# the general features take 20-30 min the first time (cached), the logistic fits about 20 min.
.PHONY: scope-general
scope-general: $(STAMP_FULL)
	$(PY) -m benchmarks.scope_general --rows runs/features/shipped/rows.npz \
		--method dermoscopy-vs-other-logistic && $(PY) -m docs.generate
