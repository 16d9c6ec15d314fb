# CampusGuard: `make demo` runs the whole system on embedded defaults; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The console speaks Chinese: without a CJK font a browser on this machine shows every character as a box.
CJK_FONT := fonts-wqy-microhei
# Monthly reports as PDF: WeasyPrint lays text out with Pango (and the CJK font above).
REPORT_LIBS := libpango-1.0-0 libpangoft2-1.0-0
# Debian packages the tests start as real servers (installed when missing and we are root). Defined
# after the two above: `:=` expands them here, and before their definitions they would be empty.
DEBIAN_TEST_PACKAGES := mosquitto mosquitto-clients nats-server postgresql influxdb openssl iproute2 python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-x chromium $(CJK_FONT) $(REPORT_LIBS)

.PHONY: setup system-deps check test faults demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	bash scripts/ensure-debian-packages.sh $(DEBIAN_TEST_PACKAGES)

check: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test: setup system-deps
	$(BIN)/pytest --durations=25

# The fault matrix at length (bounded in `make test`): 40 agent kills per backend, a 10-minute receiver
# outage, InfluxDB away for 2 minutes under load.
faults: setup system-deps
	CAMPUSGUARD_FAULT_ROUNDS=40 CAMPUSGUARD_FORWARD_OUTAGE_S=600 CAMPUSGUARD_INFLUX_OUTAGE_S=120 $(BIN)/pytest --timeout=1800 -o faulthandler_timeout=2100 tests/faults \
		tests/forwarding/test_hub_killed.py tests/forwarding/test_outbox.py tests/hub/test_hub_crash.py \
		tests/hub/test_liveness.py tests/agent/test_outage.py tests/hub/test_poison.py tests/hub/test_identity.py

demo: setup
	@bash scripts/ensure-debian-packages.sh $(CJK_FONT) $(REPORT_LIBS) || echo "note: install $(CJK_FONT) $(REPORT_LIBS) (Debian) for the console's Chinese and PDF reports"
	$(BIN)/campusguard demo

bench: setup system-deps
	$(BIN)/python bench/agent_poll/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .demo-data
