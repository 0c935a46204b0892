# mmfsp's two commands:  `make demo` (the main job on Fashion-MNIST, CPU)
# and `make test` (the test suite). Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
FASHION_DEB_DIR := /usr/share/datasets/fashion-mnist
FASHION_DIR := data/fashion_mnist
PYTEST_ARGS ?=

.PHONY: install data demo test test-all clean

install: $(VENV)/.mmfsp-installed

# torch and torchvision come together from the package index (never the
# CPU-only torch wheel without a matching torchvision); setuptools<80.9 keeps
# mmengine's `mmpretrain::` config inheritance working without a warning.
$(VENV)/.mmfsp-installed: setup.py requirements.txt requirements-tests.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt --upgrade pip "setuptools<80.9" wheel
	$(PIP) install -q -c constraints.txt torch torchvision -r requirements.txt -r requirements-tests.txt
	$(PIP) install -q -c constraints.txt --no-build-isolation -e ".[lite]"
	$(PY) -c "import mmfsp, torchvision; print('mmfsp', mmfsp.__version__, 'ready')"
	touch $@

data: $(FASHION_DIR)/t10k-labels-idx1-ubyte

$(FASHION_DIR)/t10k-labels-idx1-ubyte:
	if [ ! -d $(FASHION_DEB_DIR) ]; then \
	  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) || \
	  echo "could not install dataset-fashion-mnist; put the four Fashion-MNIST .gz files in $(FASHION_DEB_DIR) or run training with download=True"; \
	fi
	$(PYTHON) tools/prepare_fashion_mnist.py --src $(FASHION_DEB_DIR) --dst $(FASHION_DIR)

demo: install data
	$(PY) tools/demo.py

test: install data
	$(PY) -m pytest -q -m "not slow" tests $(PYTEST_ARGS)

test-all: install data
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

clean:
	rm -rf work_dirs .pytest_cache
