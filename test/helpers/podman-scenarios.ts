/** Fake-runner routes for whole podman/git/nix setups, built from recorded outputs. */
import type {FakeRoute} from './fake-runner.js'
import {podmanFixture} from './fixtures.js'

export const linuxNativeRoutes = (opts: {rootless?: boolean; nix?: boolean} = {}): FakeRoute[] => [
  {match: 'podman --version', result: {stdout: podmanFixture('podman431-version.txt')}},
  {match: 'podman version', result: {stdout: podmanFixture('podman431-version-native-linux.json')}},
  {match: 'podman info', result: {stdout: podmanFixture(opts.rootless ? 'podman431-info-rootless.json' : 'podman431-info-rootful.json')}},
  {match: 'podman image inspect', result: {stdout: podmanFixture('podman431-image-inspect.json')}},
  {match: 'git --version', result: {stdout: 'git version 2.39.5\n'}},
  ...(opts.nix ? [{match: 'nix --version', result: {stdout: 'nix (Nix) 2.18.1\n'}}] : []),
]

export const macosRoutes = (machine: 'running' | 'stopped' | 'none'): FakeRoute[] => [
  {match: 'podman --version', result: {stdout: 'podman version 5.3.1\n'}},
  machine === 'running'
    ? {match: 'podman version', result: {stdout: podmanFixture('podman5-version-remote-macos.json')}}
    : {match: 'podman version', result: {exitCode: 125, stderr: podmanFixture('podman5-connection-failed.stderr.txt')}},
  machine === 'running'
    ? {match: 'podman info', result: {stdout: podmanFixture('podman5-info-remote-macos.json')}}
    : {match: 'podman info', result: {exitCode: 125, stdout: podmanFixture('podman5-info-connection-failed.stdout.yaml'), stderr: podmanFixture('podman5-connection-failed.stderr.txt')}},
  {
    match: 'podman machine list',
    result: {stdout: podmanFixture(machine === 'running' ? 'podman5-machine-list-running.json' : machine === 'stopped' ? 'podman5-machine-list-stopped.json' : 'podman5-machine-list-none.json')},
  },
  machine === 'none'
    ? {match: 'podman machine inspect', result: {exitCode: 125, stdout: podmanFixture('podman5-machine-inspect-missing.stdout.json'), stderr: podmanFixture('podman5-machine-inspect-missing.stderr.txt')}}
    : {match: 'podman machine inspect', result: {stdout: podmanFixture(machine === 'running' ? 'podman5-machine-inspect-running.json' : 'podman5-machine-inspect-stopped.json')}},
  // A Podman Desktop user: podman-machine-default-root is the default connection (issue 11, defect 3).
  {match: 'podman system connection list', result: {stdout: podmanFixture('podman58-system-connection-list-desktop-default.json')}},
  {match: 'git --version', result: {stdout: 'git version 2.39.3 (Apple Git-145)\n'}},
]
