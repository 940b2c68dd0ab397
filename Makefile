# sata_ros developer commands. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

# A shell with the venv (ROS 2 wheels, torch) and the colcon install overlay.
ENV := source .venv/bin/activate && source install/setup.bash
LINT_PATHS := sata_ros test tools scripts launch setup.py

.PHONY: help setup build lint test demo clean distclean

help:
	@echo 'make setup      create .venv, install pinned deps, build with colcon (idempotent)'
	@echo 'make test       setup + lint + the whole pytest suite (what CI runs)'
	@echo 'make lint       ament_flake8 + ament_pep257 (the linters colcon test runs)'
	@echo 'make demo       setup + a synthetic bag played live into the node; report in demo_out/'
	@echo 'make build      colcon build --symlink-install only'
	@echo 'make clean      remove build/ install/ log/; make distclean also removes .venv'

setup:
	bash tools/setup.sh

build: setup

lint: setup
	@# The linters list every file they check; keep their findings and summaries only.
	$(ENV) && ament_flake8 $(LINT_PATHS) | { grep -v '^\* \|^Checked files:\|^$$' || true; } \
	  && ament_pep257 $(LINT_PATHS) --add-ignore D406 D407 | { grep -v '^checking \|^$$' || true; }

test: setup lint
	$(ENV) && pytest test

demo: setup
	bash tools/demo.sh

clean:
	rm -rf build install log

distclean: clean
	rm -rf .venv
