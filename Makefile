# sourceosctl agent-machine — the two commands of the quick start are `make doctor` and `make validate`.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
CLI := node bin/run.js

.PHONY: install build dist install-check clean-images doctor validate integration-gate lint typecheck test-unit test-unit-nonroot test-integration schemas schemas-check readme readme-check catalogue-check bench image e2e clean

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install:
	npm ci --no-audit --no-fund

# One build at a time (flock where there is one): two at once would bundle the same files twice.
BUILD_LOCK := $(if $(shell command -v flock 2>/dev/null),flock $(or $(TMPDIR),/tmp)/sourceosctl-build.lock,)

dist/.built: $(NODE_MODULES_STAMP) $(shell find src -name '*.ts' 2>/dev/null) tsconfig.json tsconfig.build.json package.json
	$(BUILD_LOCK) sh -c 'rm -rf dist && npx tsc -p tsconfig.build.json && node scripts/bundle.mjs && node scripts/manifest.mjs'
	@touch $@

build: dist/.built

doctor: build
	$(CLI) agent-machine doctor

lint: $(NODE_MODULES_STAMP)
	npx eslint .

typecheck: $(NODE_MODULES_STAMP)
	npx tsc -p tsconfig.json --noEmit

test-unit: build
	npx vitest run test/unit test/commands
	@$(MAKE) --no-print-directory test-unit-nonroot

# As root with the CI user present: the unit and command tests again as that user, so the tests root
# passes by privilege (unreadable, unwritable folders) run too (test/run-as-nonroot.sh, docs/testing.md).
test-unit-nonroot: build
	@if [ "$$(id -u)" != 0 ]; then echo "test-unit-nonroot: not root: test-unit already ran as a non-root user"; \
	elif [ -z "$${SOURCEOSCTL_TEST_ROOTLESS_USER:-}" ] || ! id -u "$$SOURCEOSCTL_TEST_ROOTLESS_USER" >/dev/null 2>&1; then \
	  echo "test-unit-nonroot: NOT run: no non-root user (SOURCEOSCTL_TEST_ROOTLESS_USER; .ci/run creates agentci)"; \
	else test/run-as-nonroot.sh "$$SOURCEOSCTL_TEST_ROOTLESS_USER"; fi

# As root, the rootless tests run as the user .ci/run creates (agentci) when it exists and none is named.
ifeq ($(shell id -u),0)
ifeq ($(origin SOURCEOSCTL_TEST_ROOTLESS_USER),undefined)
ifneq ($(shell id -u agentci 2>/dev/null),)
export SOURCEOSCTL_TEST_ROOTLESS_USER := agentci
endif
endif
endif

# Fails (one line: what to run) where the integration tests would be skipped; SOURCEOSCTL_UNIT_ONLY=1 opts out.
integration-gate:
	@node scripts/integration-gate.mjs

test-integration: build integration-gate
	@if [ "$$(node scripts/integration-gate.mjs --mode)" = unit-only ]; then \
	  echo "test-integration: not run (SOURCEOSCTL_UNIT_ONLY=1)"; \
	else \
	  if [ "$$(id -u)" != 0 ]; then echo "test-integration: not root: the rootful half is left out (SOURCEOSCTL_TEST_SKIP_MODES=rootful); .ci/run runs both"; export SOURCEOSCTL_TEST_SKIP_MODES=rootful; fi; \
	  SOURCEOSCTL_TEST_REQUIRE_PODMAN=1 npx vitest run test/integration; \
	fi

schemas: build
	node scripts/gen-schemas.mjs

schemas-check: build
	node scripts/gen-schemas.mjs --check

catalogue-check: $(NODE_MODULES_STAMP)
	node scripts/build-catalogue.mjs --check

readme: build
	node scripts/readme-commands.mjs

readme-check: build
	node scripts/readme-commands.mjs --check

# The gate runs first: a run that could not test against podman fails in a second, not at the end.
validate: integration-gate lint typecheck build schemas-check readme-check catalogue-check test-unit test-integration install-check
	@$(MAKE) --no-print-directory clean-images
	@if [ "$$(node scripts/integration-gate.mjs --mode)" = unit-only ]; then \
	  echo "validate: UNIT-ONLY run (SOURCEOSCTL_UNIT_ONLY=1): unit checks passed; the integration tests were NOT run"; \
	else \
	  echo "validate: all checks passed (unit and integration tests)"; \
	fi

bench: build
	node scripts/bench.mjs
	@$(MAKE) --no-print-directory clean-images

# The images the integration tests and the bench build (localhost/sourceosctl-test/…, -bench/…) and
# their containers leave the stores: root's, and the rootless test user's when run as root.
TEST_IMAGES := grep -E '^localhost/sourceosctl-(test|bench)/'
clean-images:
	@for who in self $$( [ "$$(id -u)" = 0 ] && [ -n "$$SOURCEOSCTL_TEST_ROOTLESS_USER" ] && echo "$$SOURCEOSCTL_TEST_ROOTLESS_USER" ); do \
	  if [ "$$who" = self ]; then run=(); else run=(runuser -u "$$who" -- env HOME="$$(getent passwd "$$who" | cut -d: -f6)" $${CONTAINERS_CONF:+CONTAINERS_CONF=$$CONTAINERS_CONF}); fi; \
	  command -v podman >/dev/null || exit 0; \
	  images=$$(cd / && "$${run[@]}" podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | $(TEST_IMAGES) || true); \
	  [ -z "$$images" ] || (cd / && "$${run[@]}" podman rmi --force $$images >/dev/null 2>&1) || true; \
	  echo "clean-images ($$who): removed $$(echo $$images | wc -w) test/bench image(s)"; \
	done

# The agent image (images/agent/Containerfile) under the active profile's image.ref (TAG=… for
# another name), in the store the runs use: the same as `sourceosctl agent-machine image build`.
image: build
	$(CLI) agent-machine image build $(if $(TAG),--tag $(TAG))

# The npm tarball (sourceosctl-<version>.tgz in dist-pkg/): `npm install -g ./dist-pkg/sourceosctl-*.tgz`.
dist: build
	rm -rf dist-pkg && mkdir -p dist-pkg
	npm pack --pack-destination dist-pkg --ignore-scripts
	@ls dist-pkg/*.tgz

# The tarball installed into a temporary prefix (as a user would, no root needed), and doctor run from it.
install-check: dist
	scripts/install-check.sh dist-pkg/sourceosctl-*.tgz
	@if [ "$$(id -u)" = 0 ] && [ -n "$$SOURCEOSCTL_TEST_ROOTLESS_USER" ]; then \
	  scripts/install-check.sh --as "$$SOURCEOSCTL_TEST_ROOTLESS_USER" dist-pkg/sourceosctl-*.tgz; \
	fi

# Real Codex and Claude Code through the built CLI, in an image built from Debian packages
# (no registry needed; as root). See scripts/e2e.sh.
e2e:
	scripts/e2e.sh
	scripts/e2e-door.sh

clean:
	rm -rf dist dist-pkg oclif.manifest.json

# Mutation testing of the security-critical code (StrykerJS, stryker.config.mjs; not part of validate).
# MUTATE=<glob>[,<glob>] narrows the run, e.g. make mutation MUTATE=src/core/policy/path-key.ts
.PHONY: mutation
mutation: $(NODE_MODULES_STAMP)
	MUTATE='$(MUTATE)' MUTATION_TESTS='$(MUTATION_TESTS)' npx stryker run stryker.config.mjs
