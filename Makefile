# Two commands for a new user: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
CONFIG      ?= pipeline/configs/taxi.toml
OUTPUT_ROOT ?=
RUN_ARGS    ?=
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
AIRFLOW_STAMP := $(VENV)/.airflow-installed
AIRFLOW_PORT  ?= 8080
AIRFLOW_DB_PORT ?= 5433
PYTEST_ARGS ?= --durations=15
FLINK_PORT  ?= 8081
# The Java engines' jars (make flink-jars) and Maven's downloads live inside the environment,
# not in $(HOME)/.m2.
JAVA_DIR    := $(VENV)/java
FLINK_STAMP := $(JAVA_DIR)/.flink-built
SPARK_STAMP := $(JAVA_DIR)/.spark-built
SPARK_PORT  ?= 8082
MVN         := mvn -q -B -Dmaven.repo.local=$(abspath $(JAVA_DIR))/m2
NOTEBOOK_PORT ?= 8888
# Jupyter and IPython keep their settings, runtime files and history inside the environment,
# not in $HOME.
JUPYTER_ENV := JUPYTER_CONFIG_DIR=$(abspath $(VENV))/etc/jupyter-user \
               JUPYTER_DATA_DIR=$(abspath $(VENV))/share/jupyter-user \
               JUPYTER_RUNTIME_DIR=$(abspath $(VENV))/var/jupyter-runtime \
               IPYTHONDIR=$(abspath $(VENV))/var/ipython \
               MPLCONFIGDIR=$(abspath $(VENV))/var/matplotlib

# Python 3.10: on PATH, else through pyenv. Empty when neither has it.
PYTHON310 := $(shell \
  for c in python3.10 "$$(pyenv prefix 3.10 2>/dev/null | head -n1)/bin/python" "$$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python; do \
    [ -n "$$c" ] || continue; \
    p=$$(command -v "$$c" 2>/dev/null) || continue; \
    "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && { echo "$$p"; break; }; \
  done)

comma := ,
# $(call apt_install,PACKAGE,WHY,MORE): installs Debian's PACKAGE if this user may (root, or sudo
# without a password); else one line says WHY, how to install it, and MORE.
define apt_install
if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	  elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "error: $(2): install it with 'sudo apt-get install -y $(1)' (Debian/Ubuntu)$(3)" >&2; exit 2; fi; \
	  echo "installing Debian's $(1)"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(1) >/dev/null
endef

.PHONY: help venv run tune test test-airflow test-runners chromium postgresql lint lock airflow airflow-stop flink flink-jars flink-stop spark spark-jars spark-stop maven bench bench-scale bench-optimize notebooks clean distclean

help:
	@echo "make run     build the environment, materialise the default data, run the pipeline, push a model"
	@echo "make tune    the same run with hyperparameter tuning first ([tuning] of the config)"
	@echo "make test    run the test suite (includes an end-to-end run on a small sample)"
	@echo "make lint    ruff"
	@echo "make airflow  install Airflow, start PostgreSQL, Airflow's scheduler and web server (127.0.0.1) with the pipeline's DAG"
	@echo "make airflow-stop  stop them; make test-airflow: scheduled runs end to end (DAG test, backfill)"
	@echo "make test-runners  the pipeline on Beam's PortableRunner (job service, worker pool), on Flink and on Spark vs the DirectRunner"
	@echo "make flink   build Beam's Flink job server and Flink's jars (Maven, Java 17), start a Flink cluster on 127.0.0.1"
	@echo "make flink-stop  stop it"
	@echo "make spark   the same for a Spark standalone cluster (master, worker, Beam's Spark job server); make spark-stop"
	@echo "make bench   cold/warm timings and peak memory vs the stock TFX taxi example (slow)"
	@echo "make bench-scale  the pipeline at 15k, 150k and 1.5M rows vs the stock example (about 20 minutes here)"
	@echo "make notebooks  JupyterLab on notebooks/ (review a run's data and model), on localhost"
	@echo "make bench-optimize  sizes, AUC per slice and latency of the optimized variants (full data)"
	@echo "make clean   remove outputs and materialised data (keeps the environment; 'make distclean' removes it too)"

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@[ -n "$(PYTHON310)" ] || { echo "error: Python 3.10 not found on PATH or through pyenv; install it (e.g. 'pyenv install 3.10') and rerun make" >&2; exit 2; }
	@[ -x $(BIN)/python ] || "$(PYTHON310)" -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip -q
	@[ -x $(BIN)/uv ] || $(BIN)/python -m pip install -q --disable-pip-version-check uv
	# Bytecode compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on these machines),
	# every process would otherwise recompile TensorFlow's and TFX's sources, about 8 s each.
	$(BIN)/uv pip sync --python $(BIN)/python --compile-bytecode requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	@rm -f $(AIRFLOW_STAMP)  # the sync removed Airflow, if it was there
	@echo "registering the notebooks' kernel 'tabular-tfx' (this environment's Python) in $(VENV)"
	@mkdir -p $(VENV)/var
	@$(JUPYTER_ENV) $(BIN)/python -m ipykernel install --sys-prefix --name tabular-tfx \
	  --display-name "Python (tabular-tfx)" --env TF_USE_LEGACY_KERAS 1 >/dev/null
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tfxpipe run --config $(CONFIG) $(if $(OUTPUT_ROOT),--output-root $(OUTPUT_ROOT)) $(RUN_ARGS)

# The pipeline with the Tuner before the Trainer ([tuning] of CONFIG: its space and budget).
tune: $(STAMP)
	$(BIN)/tfxpipe run --tune --config $(CONFIG) $(if $(OUTPUT_ROOT),--output-root $(OUTPUT_ROOT)) $(RUN_ARGS)

test: $(STAMP) $(AIRFLOW_STAMP) chromium
	$(BIN)/python -m pytest -m "not airflow and not runners" $(PYTEST_ARGS)

# The pipeline on Beam's PortableRunner (a job service and a worker pool, each a process of its
# own), on a Flink cluster (a JobManager and a TaskManager) and on a Spark cluster (a master and a
# worker), each against the DirectRunner on the same data: CI runs it after `make test`.
test-runners: $(STAMP) $(FLINK_STAMP) $(SPARK_STAMP)
	$(BIN)/python -m pytest -m runners $(PYTEST_ARGS)

# Beam's Flink job server as one jar, and a Flink cluster's jars, from Maven Central with the
# ordinary client (java/*/pom.xml say why these versions). Each is written aside and renamed.
$(FLINK_STAMP): java/flink-job-server/pom.xml java/flink-cluster/pom.xml | maven
	@mkdir -p $(JAVA_DIR)
	@echo "building Beam's Flink job server and Flink's jars into $(JAVA_DIR) (Maven; the first time downloads about 300 MB)"
	$(MVN) -f java/flink-job-server/pom.xml -Dbuild.dir=$(abspath $(JAVA_DIR))/build/flink-job-server package
	cp $(JAVA_DIR)/build/flink-job-server/beam-flink-job-server-*.jar $(JAVA_DIR)/.beam-flink-job-server.jar.tmp
	mv -f $(JAVA_DIR)/.beam-flink-job-server.jar.tmp $(JAVA_DIR)/beam-flink-job-server.jar
	rm -rf $(JAVA_DIR)/build
	rm -rf $(JAVA_DIR)/.flink-lib.tmp
	$(MVN) -f java/flink-cluster/pom.xml dependency:copy-dependencies -DoutputDirectory=$(abspath $(JAVA_DIR))/.flink-lib.tmp
	rm -rf $(JAVA_DIR)/flink-lib && mv $(JAVA_DIR)/.flink-lib.tmp $(JAVA_DIR)/flink-lib
	@touch $(FLINK_STAMP)

flink-jars: $(FLINK_STAMP)

# Java (17: what Flink 1.16 and Spark 3.2 run on here) and Maven, Debian's packages, installed
# when missing if this user may; else one line says how.
maven:
	@command -v java >/dev/null 2>&1 || \
	  { $(call apt_install,openjdk-17-jdk-headless,the Flink and Spark clusters run on Java 17,$(comma) then rerun make); }
	@command -v mvn >/dev/null 2>&1 || \
	  { $(call apt_install,maven,the Flink and Spark jars are built with Maven,$(comma) then rerun make); }

# Spark's jars with Beam's Spark runner and job service, in one folder (java/spark/pom.xml).
$(SPARK_STAMP): java/spark/pom.xml | maven
	@mkdir -p $(JAVA_DIR)
	@echo "building Spark's and Beam's Spark runner's jars into $(JAVA_DIR)/spark (Maven)"
	rm -rf $(JAVA_DIR)/.spark.tmp
	$(MVN) -f java/spark/pom.xml dependency:copy-dependencies -DoutputDirectory=$(abspath $(JAVA_DIR))/.spark.tmp/jars
	rm -rf $(JAVA_DIR)/spark && mv $(JAVA_DIR)/.spark.tmp $(JAVA_DIR)/spark
	@touch $(SPARK_STAMP)

spark-jars: $(SPARK_STAMP)

# A Flink cluster on 127.0.0.1 (REST and web UI on FLINK_PORT) for [beam] runner = "FlinkRunner".
flink: $(STAMP) $(FLINK_STAMP)
	$(BIN)/tfxpipe flink start --config $(CONFIG) $(if $(OUTPUT_ROOT),--output-root $(OUTPUT_ROOT)) \
	  --port $(FLINK_PORT)

flink-stop: $(STAMP)
	$(BIN)/tfxpipe flink stop --config $(CONFIG) $(if $(OUTPUT_ROOT),--output-root $(OUTPUT_ROOT)) \
	  --port $(FLINK_PORT)

# A Spark standalone cluster on 127.0.0.1 (web UI on SPARK_PORT) for [beam] runner = "SparkRunner".
spark: $(STAMP) $(SPARK_STAMP)
	$(BIN)/tfxpipe spark start --config $(CONFIG) $(if $(OUTPUT_ROOT),--output-root $(OUTPUT_ROOT)) \
	  --port $(SPARK_PORT)

spark-stop: $(STAMP)
	$(BIN)/tfxpipe spark stop --config $(CONFIG) $(if $(OUTPUT_ROOT),--output-root $(OUTPUT_ROOT)) \
	  --port $(SPARK_PORT)

# Scheduled runs on a real Airflow (its own database, the pipeline's DAG tested, a catch-up as a
# backfill) and the PostgreSQL that `make airflow` starts: CI runs it after `make test`.
test-airflow: $(STAMP) $(AIRFLOW_STAMP) postgresql
	$(BIN)/python -m pytest -m airflow $(PYTEST_ARGS)

# Airflow in the project's environment, from requirements-airflow.lock: the same pins as
# requirements.lock plus Airflow's own (one resolution: see `make lock`).
$(AIRFLOW_STAMP): $(STAMP) requirements-airflow.lock
	$(BIN)/uv pip sync --python $(BIN)/python --compile-bytecode requirements-airflow.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	@touch $(AIRFLOW_STAMP)

# Both locks from pyproject.toml in one resolution: the project's (with the pins Airflow needs,
# [tool.uv] constraint-dependencies), then Airflow's constrained to it, so that installing Airflow
# only adds packages (tests/test_locks.py checks it).
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra review --python-version 3.10 \
	  -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra review --extra airflow \
	  --python-version 3.10 -c requirements.lock -o requirements-airflow.lock

# Airflow's database is a PostgreSQL server of its own (Debian's package), so that a run's
# independent tasks run side by side (Airflow runs one task at a time on SQLite).
postgresql:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
	  { $(call apt_install,postgresql,Airflow's database needs PostgreSQL's server,$(comma) then rerun make); }

airflow: $(AIRFLOW_STAMP) postgresql
	$(BIN)/tfxpipe airflow start --config $(CONFIG) $(if $(OUTPUT_ROOT),--output-root $(OUTPUT_ROOT)) \
	  --port $(AIRFLOW_PORT) --db-port $(AIRFLOW_DB_PORT)

airflow-stop: $(STAMP)
	$(BIN)/tfxpipe airflow stop --config $(CONFIG) $(if $(OUTPUT_ROOT),--output-root $(OUTPUT_ROOT))

# The report's browser test opens reports in a real headless Chromium (Debian's package). When it
# is missing, it is installed here if this user may (root, or sudo without a password); else one
# line says how.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  [ -n "$$TFXPIPE_CHROMIUM" ] || \
	  { $(call apt_install,chromium,the report's browser test needs Chromium,$(comma) or set TFXPIPE_CHROMIUM to a Chromium binary$(comma) then rerun make test); }

lint: $(STAMP)
	$(BIN)/ruff check pipeline components bench tests conftest.py

bench: $(STAMP)
	$(BIN)/python -m bench.speed

# SCALE_ARGS: e.g. --sizes 15k,150k --beam-modes in_memory,multi_processing
SCALE_ARGS ?=
bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

# Review notebooks: JupyterLab on notebooks/, bound to localhost. Open the URL it prints (it holds
# the access token). The notebooks review the latest run of CONFIG (and OUTPUT_ROOT) by default.
notebooks: $(STAMP)
	cd notebooks && $(JUPYTER_ENV) TFXPIPE_CONFIG=$(abspath $(CONFIG)) \
	  $(if $(OUTPUT_ROOT),TFXPIPE_OUTPUT_ROOT=$(abspath $(OUTPUT_ROOT))) \
	  ../$(BIN)/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 \
	  --ServerApp.port=$(NOTEBOOK_PORT) --ServerApp.root_dir=. --LabApp.news_url=None \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	  --LabApp.extension_manager=readonly $(if $(filter 0,$(shell id -u)),--allow-root)

bench-optimize: $(STAMP)
	$(BIN)/python -m bench.optimize

clean:
	rm -rf outputs data/materialized .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
