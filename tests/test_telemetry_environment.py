"""Environment detection with the environment, files and modules faked.

These machines themselves have /.dockerenv and CI=true: every test gives the detectors its
own environment variables and file-system root, so none depends on where it runs.
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from carbon_magic.telemetry import environment as env
from carbon_magic.telemetry.environment import Probe
from tests.fakes.fake_pynvml import FakeNvml


@pytest.fixture
def root(tmp_path) -> Path:
    """An empty file-system root."""
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def probe(root: Path, environ: dict | None = None, **changes) -> Probe:
    return replace(Probe(environ=environ or {}, root=root, modules={}), **changes)


def touch(root: Path, relative: str, text: str = "") -> Path:
    path = root / relative.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- notebooks and IDEs ---------------------------------------------------------------------


def test_jupyter_kernel_shell_is_jupyter_a_terminal_is_not(root):
    assert env.notebook_environment(probe(root), "ZMQInteractiveShell") == "jupyter"
    assert env.ide_used(probe(root), "ZMQInteractiveShell") == "jupyter"
    assert env.notebook_environment(probe(root), "TerminalInteractiveShell") == "none"
    assert env.ide_used(probe(root), None) == "none"


def test_nbclient_kernels_are_jupyter_kernels_too(root):
    # nbclient starts the same ipykernel (JPY_PARENT_PID set): the notebook environment is
    # jupyter; what differs is that nobody can answer a prompt (see test_telemetry_prompt).
    nbclient = probe(root, {"JPY_PARENT_PID": "4242"})
    assert env.notebook_environment(nbclient, "ZMQInteractiveShell") == "jupyter"


def test_colab_from_its_variable_or_its_module(root):
    assert env.notebook_environment(probe(root, {"COLAB_RELEASE_TAG": "release-colab_20240501"}),
                                    "ZMQInteractiveShell") == "colab"
    assert env.notebook_environment(probe(root, modules={"google.colab": object()}), "Shell") == "colab"
    assert env.ide_used(probe(root, {"COLAB_RELEASE_TAG": "x"}), "ZMQInteractiveShell") == "none"


def test_kaggle_is_checked_before_colab(root):
    both = probe(root, {"KAGGLE_KERNEL_RUN_TYPE": "Interactive", "COLAB_RELEASE_TAG": "x"},
                 modules={"google.colab": object()})
    assert env.notebook_environment(both, "ZMQInteractiveShell") == "kaggle"


@pytest.mark.parametrize("environ, expected", [
    ({"VSCODE_PID": "123"}, "vscode"),
    ({"TERM_PROGRAM": "vscode"}, "vscode"),
    ({"PYCHARM_HOSTED": "1"}, "pycharm"),
    ({"TERM_PROGRAM": "iTerm.app"}, "none"),
])
def test_ide(root, environ, expected):
    assert env.ide_used(probe(root, environ), "TerminalInteractiveShell") == expected


def test_vscode_notebook_is_vscode_not_jupyter(root):
    assert env.ide_used(probe(root, {"VSCODE_PID": "1"}), "ZMQInteractiveShell") == "vscode"


# --- CI and containers ------------------------------------------------------------------------


@pytest.mark.parametrize("environ, expected", [
    ({"GITHUB_ACTIONS": "true", "CI": "true"}, "github-actions"),
    ({"GITLAB_CI": "true", "CI": "true"}, "gitlab"),
    ({"JENKINS_URL": "http://jenkins.example:8080/"}, "jenkins"),
    ({"CIRCLECI": "true", "CI": "true"}, "circleci"),
    ({"TF_BUILD": "True"}, "azure-pipelines"),
    ({"CI": "true"}, "other"),
    ({"CI": "false"}, "none"),
    ({}, "none"),
])
def test_ci(root, environ, expected):
    assert env.ci_environment(probe(root, environ)) == expected


def test_containers_from_faked_files_and_variables(root, tmp_path):
    assert env.container_runtime(probe(root)) == "none"  # although this machine has /.dockerenv
    touch(root, "/.dockerenv")
    assert env.container_runtime(probe(root)) == "docker"
    podman_root = tmp_path / "podman"
    touch(podman_root, "/run/.containerenv", 'engine="podman-4.9.3"\n')
    assert env.container_runtime(probe(podman_root)) == "podman"
    assert env.container_runtime(probe(tmp_path / "nothing", {"container": "podman"})) == "podman"
    kubernetes = probe(root, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert env.container_runtime(kubernetes) == "kubernetes"


# --- Python environments and install methods --------------------------------------------------


def prefix_with(tmp_path: Path, name: str, pyvenv: str | None = None, conda: bool = False) -> str:
    prefix = tmp_path / name
    prefix.mkdir()
    if pyvenv is not None:
        (prefix / "pyvenv.cfg").write_text(pyvenv)
    if conda:
        (prefix / "conda-meta").mkdir()
    return str(prefix)


def test_virtual_environments_by_who_made_them(root, tmp_path):
    base = str(tmp_path / "base")
    home = "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n"
    uv = prefix_with(tmp_path, "uv", home + "uv = 0.4.18\n")
    virtualenv = prefix_with(tmp_path, "virtualenv", home + "virtualenv = 20.26.2\n")
    venv = prefix_with(tmp_path, "venv", home)
    assert env.python_env_type(probe(root, prefix=uv, base_prefix=base)) == "uv"
    assert env.python_env_type(probe(root, prefix=virtualenv, base_prefix=base)) == "virtualenv"
    assert env.python_env_type(probe(root, prefix=venv, base_prefix=base)) == "venv"


def test_conda_system_and_user_installs(root, tmp_path):
    conda = prefix_with(tmp_path, "conda", conda=True)
    assert env.python_env_type(probe(root, prefix=conda, base_prefix=conda)) == "conda"
    system = prefix_with(tmp_path, "usr")
    assert env.python_env_type(probe(root, {"CONDA_DEFAULT_ENV": "base"}, prefix=system, base_prefix=system)) == "conda"
    assert env.python_env_type(probe(root, prefix=system, base_prefix=system)) == "system"
    user_site = str(tmp_path / "home/.local/lib/python3.11/site-packages")
    user = probe(root, prefix=system, base_prefix=system, user_site=user_site)
    assert env.python_env_type(user, install_location=user_site) == "pip"
    assert env.python_env_type(user, install_location="/usr/lib/python3/dist-packages") == "system"


def dist_info(folder: Path, name: str, version: str, files: dict[str, str] | None = None) -> Path:
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for file_name, text in (files or {}).items():
        (info / file_name).write_text(text)
    return info


@pytest.mark.parametrize("files, expected", [
    ({"INSTALLER": "pip\n"}, "pip"),
    ({"INSTALLER": "uv\n"}, "uv"),
    ({"INSTALLER": "conda\n"}, "conda"),
    ({"INSTALLER": "uv\n", "direct_url.json": '{"url": "file:///src/carbon_magic", "dir_info": {"editable": true}}'},
     "editable"),
    ({"INSTALLER": "pip", "direct_url.json": '{"url": "file:///src/x.whl", "archive_info": {}}'}, "pip"),
    ({"INSTALLER": "my-own-tool"}, None),
    ({}, None),
])
def test_install_method_from_the_distribution_metadata(root, tmp_path, files, expected):
    info = dist_info(tmp_path / "site", "carbon_magic", "0.1.0", files)
    found = probe(root, distribution=lambda name: importlib.metadata.PathDistribution(info))
    method, location = env.install_method(found)
    assert method == expected
    assert location == str(tmp_path / "site")


def test_not_installed_source_tree_has_no_install_method(root):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    assert env.install_method(probe(root, distribution=missing)) == (None, None)


@pytest.mark.parametrize("environ, env_type, installed_with, expected", [
    ({"POETRY_ACTIVE": "1"}, "virtualenv", "pip", "poetry"),
    ({"PIPENV_ACTIVE": "1"}, "virtualenv", "pip", "pipenv"),
    ({}, "uv", None, "uv"),
    ({"UV": "/usr/local/bin/uv"}, "venv", "pip", "uv"),
    ({}, "venv", "uv", "uv"),
    ({}, "conda", "pip", "conda"),
    ({}, "venv", "pip", "pip"),
])
def test_package_manager(root, environ, env_type, installed_with, expected):
    assert env.python_package_manager(probe(root, environ), env_type, installed_with) == expected


# --- ML libraries: found, never imported --------------------------------------------------------


def fake_package(site: Path, module: str) -> None:
    """A package that refuses to be imported (importing it would be a test failure)."""
    package = site / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"raise RuntimeError('{module} must not be imported by detection')\n")


@pytest.fixture
def fake_ml_site(tmp_path, monkeypatch) -> Path:
    site = tmp_path / "ml-site"
    for module in ("torch", "transformers", "lightning", "keras"):
        fake_package(site, module)
    dist_info(site, "torch", "2.3.1")
    dist_info(site, "transformers", "4.41.2")
    dist_info(site, "lightning", "2.2.5")  # the new name of pytorch_lightning
    # keras: a module without metadata (vendored): found, version unknown
    monkeypatch.syspath_prepend(str(site))
    for name in ("torch", "transformers", "lightning", "keras", "diffusers", "tensorflow", "fastai",
                 "pytorch_lightning", "jax"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return site


def test_ml_libraries_are_found_with_versions_and_never_imported(fake_ml_site, root):
    real = replace(Probe.current(), root=root)
    found = env.ml_libraries(real)
    assert found == {"torch": "2.3.1", "transformers": "4.41.2", "pytorch_lightning": "2.2.5", "keras": None}
    assert env.frameworks_installed(real) == ("pytorch",)
    assert env.framework_detected(real) == "none"
    assert env.primary_framework(real, ("pytorch",)) == "pytorch"
    for name in ("torch", "transformers", "lightning", "keras", "tensorflow", "diffusers", "fastai", "jax"):
        assert name not in sys.modules


def test_framework_detected_is_the_one_the_user_imported(root):
    imported = probe(root, modules={"jax": object(), "numpy": object()})
    assert env.framework_detected(imported) == "JAX"
    assert env.primary_framework(imported, ("pytorch", "JAX")) == "JAX"
    assert env.framework_detected(probe(root, modules={"torch": object(), "jax": object()})) == "pytorch"
    assert env.primary_framework(probe(root), ()) == "none"


def test_broken_module_finder_or_metadata_do_not_break_detection(root):
    def finder(name):
        raise ValueError("torch.__spec__ is None")

    def version(name):
        raise OSError("unreadable METADATA")

    broken = probe(root, find_spec=finder, version=version)
    assert env.ml_libraries(broken) == {}
    found = probe(root, find_spec=lambda name: object() if name == "torch" else None, version=version)
    assert env.ml_libraries(found) == {"torch": None}


# --- CUDA and cuDNN -------------------------------------------------------------------------------


def test_cuda_from_nvml_when_the_sampler_loaded_it(root):
    nvml = FakeNvml([])
    assert env.cuda_version(probe(root, {"CUDA_VERSION": "12.4.1"}), nvml) == "13.0"
    assert env.gpu_driver_version(nvml) == "580.159.04"
    assert env.gpu_driver_version(None) is None


def test_cuda_without_nvml_from_env_then_files(root, tmp_path):
    assert env.cuda_version(probe(root, {"CUDA_VERSION": "12.4.1"})) == "12.4.1"
    assert env.cuda_version(probe(root)) is None
    touch(root, "/usr/local/cuda/version.json", '{"cuda": {"name": "CUDA SDK", "version": "12.2.140"}}')
    assert env.cuda_version(probe(root)) == "12.2.140"
    old = tmp_path / "old-root"
    touch(old, "/usr/local/cuda/version.txt", "CUDA Version 11.2.67\n")
    assert env.cuda_version(probe(old)) == "11.2.67"


def test_cuda_and_cudnn_from_nvidia_wheels(root, tmp_path, monkeypatch):
    site = tmp_path / "wheels"
    dist_info(site, "nvidia-cuda-runtime-cu12", "12.1.105")
    dist_info(site, "nvidia-cudnn-cu12", "8.9.2.26")
    monkeypatch.syspath_prepend(str(site))
    real = replace(Probe.current(), environ={}, root=root)
    assert env.cuda_version(real) == "12.1.105"
    assert env.cudnn_version(real) == "8.9.2.26"


def test_cudnn_from_env_then_headers(root, tmp_path):
    assert env.cudnn_version(probe(root, {"CUDNN_VERSION": "9.1.0.70"})) == "9.1.0.70"
    assert env.cudnn_version(probe(root)) is None
    header = ("#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 7\n"
              "#define CUDNN_VERSION (CUDNN_MAJOR * 1000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)\n")
    touch(root, "/usr/include/x86_64-linux-gnu/cudnn_version_v8.h", header)
    assert env.cudnn_version(probe(root)) == "8.9.7"


def test_machine_id_for_the_opt_in_fingerprint(root, tmp_path):
    assert env.machine_id(probe(root)) is None
    touch(root, "/var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n")
    assert env.machine_id(probe(root)) == "0123456789abcdef0123456789abcdef"


def test_static_environment_puts_the_detectors_together(root, tmp_path):
    touch(root, "/run/.containerenv")
    prefix = prefix_with(tmp_path, "venv", "home = /usr/bin\nuv = 0.5.0\n")
    info = dist_info(tmp_path / "site", "carbon_magic", "0.1.0", {"INSTALLER": "uv"})
    found = probe(root, {"GITLAB_CI": "true", "CUDA_VERSION": "12.4"}, prefix=prefix, base_prefix="/usr",
                  distribution=lambda name: importlib.metadata.PathDistribution(info),
                  find_spec=lambda name: None)
    static = env.static_environment(found)
    assert (static.python_env_type, static.install_method, static.package_manager) == ("uv", "uv", "uv")
    assert (static.ci_environment, static.container_runtime) == ("gitlab", "podman")
    assert static.cuda_version == "12.4" and static.cudnn_version is None
    assert static.libraries == {} and static.frameworks_installed == ()


def test_a_whole_extensive_payload_imports_no_ml_library(fake_ml_site, tmp_path, monkeypatch, samplers):
    from carbon_magic.core.config import resolve_config
    from carbon_magic.telemetry import gather
    from carbon_magic.telemetry.consent import ConsentStore
    from tests import telemetry_schema

    monkeypatch.setattr(gather, "_static", None)
    config = resolve_config({"offline": True, "country_iso_code": "FRA", "save_to_file": False})
    built = gather.build_payload("extensive", config, ConsentStore(tmp_path / "t.json"), samplers=samplers)
    assert telemetry_schema.problems(built) == []
    assert (built["has_torch"], built["torch_version"]) == (True, "2.3.1")
    assert (built["has_pytorch_lightning"], built["pytorch_lightning_version"]) == (True, "2.2.5")
    assert (built["has_keras"], built["keras_version"]) == (True, None)
    assert built["has_tensorflow"] is False and built["ml_framework_primary"] == "pytorch"
    assert built["framework_detected"] == "none"
    for name in ("torch", "transformers", "lightning", "keras"):
        assert name not in sys.modules
