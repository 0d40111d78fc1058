"""What kind of environment this process runs in, for the telemetry payload and the prompt.

Every detector reads only what a ``Probe`` gives it (environment variables, a file-system
root, the imported modules, a module finder, distribution metadata), so tests fake each
signal; ``Probe.current()`` is the real process. Nothing here imports a library to detect
it: ML libraries are found by ``importlib.util.find_spec`` and their versions read from
distribution metadata (importing torch takes seconds and changes the process); CUDA and
cuDNN versions come from NVML (only if the sampler already loaded it), environment
variables, files and the NVIDIA wheels' metadata.

Values use the vocabularies of the telemetry feature request (REFERENCE.md section 2).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import site
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .levels import truthy

NONE = "none"


def _installed_version(distribution: str) -> str:
    """importlib.metadata.version, imported on first use (it pulls in the email package)."""
    import importlib.metadata

    return importlib.metadata.version(distribution)


def _installed_distribution(distribution: str) -> Any:
    import importlib.metadata

    return importlib.metadata.distribution(distribution)


@dataclass(frozen=True)
class Probe:
    """Everything the detectors look at. Tests replace fields with ``dataclasses.replace``."""

    environ: Mapping[str, str]
    root: Path = Path("/")
    modules: Mapping[str, Any] = field(default_factory=dict)
    find_spec: Callable[[str], Any] = importlib.util.find_spec
    version: Callable[[str], str] = _installed_version
    distribution: Callable[[str], Any] = _installed_distribution
    prefix: str = sys.prefix
    base_prefix: str = sys.base_prefix
    user_site: str | None = None

    @classmethod
    def current(cls) -> "Probe":
        user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
        return cls(environ=os.environ, modules=sys.modules, user_site=user_site)

    def file(self, relative: str) -> Path:
        """``relative`` (an absolute path on a real system) under this probe's root."""
        return self.root / relative.lstrip("/")

    def installed(self, module: str) -> bool:
        """True if ``module`` (a top-level name) can be imported; never imports it."""
        if module in self.modules:
            return True
        try:
            return self.find_spec(module) is not None
        except (ImportError, ValueError):
            return False

    def version_of(self, *distributions: str) -> str | None:
        """The version of the first of ``distributions`` installed, from its metadata."""
        for name in distributions:
            try:
                return self.version(name)
            except Exception:  # not installed (PackageNotFoundError), or broken metadata
                continue
        return None


# --- notebooks, IDEs, CI, containers -------------------------------------------------------


def notebook_environment(probe: Probe, shell_class: str | None) -> str:
    """kaggle, colab, jupyter or none. Kaggle first: its kernels also look like Colab's."""
    if "KAGGLE_KERNEL_RUN_TYPE" in probe.environ:
        return "kaggle"
    if "COLAB_RELEASE_TAG" in probe.environ or "google.colab" in probe.modules:
        return "colab"
    if shell_class == "ZMQInteractiveShell":
        return "jupyter"
    return NONE


def ide_used(probe: Probe, shell_class: str | None) -> str:
    """vscode, pycharm, jupyter (a Jupyter front end) or none."""
    if "VSCODE_PID" in probe.environ or probe.environ.get("TERM_PROGRAM") == "vscode":
        return "vscode"
    if "PYCHARM_HOSTED" in probe.environ:
        return "pycharm"
    if notebook_environment(probe, shell_class) == "jupyter":
        return "jupyter"
    return NONE


_CI_VARIABLES = (
    ("GITHUB_ACTIONS", "github-actions"),
    ("GITLAB_CI", "gitlab"),
    ("JENKINS_URL", "jenkins"),
    ("CIRCLECI", "circleci"),
    ("TF_BUILD", "azure-pipelines"),
)


def ci_environment(probe: Probe) -> str:
    """github-actions, gitlab, jenkins, circleci, azure-pipelines, other (a generic ``CI``)
    or none."""
    for variable, name in _CI_VARIABLES:
        if truthy(probe.environ.get(variable)):
            return name
    if truthy(probe.environ.get("CI")):
        return "other"
    return NONE


def container_runtime(probe: Probe) -> str:
    """kubernetes, podman, docker or none (Kubernetes first: its pods also run containers)."""
    if "KUBERNETES_SERVICE_HOST" in probe.environ:
        return "kubernetes"
    if probe.file("/run/.containerenv").exists() or probe.environ.get("container") == "podman":
        return "podman"
    if probe.file("/.dockerenv").exists():
        return "docker"
    return NONE


# --- Python environment and how this package was installed ---------------------------------


def _pyvenv_keys(prefix: str) -> set[str]:
    try:
        text = (Path(prefix) / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {line.split("=", 1)[0].strip().lower() for line in text.splitlines() if "=" in line}


def python_env_type(probe: Probe, install_location: str | None = None) -> str:
    """uv, virtualenv or venv (a virtual environment, by who made it), conda, pip (a user
    install outside any environment: ``pip install --user``) or system."""
    if probe.prefix != probe.base_prefix:
        keys = _pyvenv_keys(probe.prefix)
        if "uv" in keys:
            return "uv"
        if "virtualenv" in keys:
            return "virtualenv"
        return "venv"
    if (Path(probe.prefix) / "conda-meta").is_dir() or "CONDA_DEFAULT_ENV" in probe.environ:
        return "conda"
    if install_location and probe.user_site and install_location.startswith(probe.user_site):
        return "pip"
    return "system"


_INSTALLERS = {"pip": "pip", "uv": "uv", "conda": "conda"}


def install_method(probe: Probe, distribution_name: str = "carbon_magic") -> tuple[str | None, str | None]:
    """(how ``distribution_name`` was installed: editable, pip, uv, conda or None if unknown;
    where it is installed, for ``python_env_type``), from its INSTALLER and direct_url.json."""
    try:
        distribution = probe.distribution(distribution_name)
    except Exception:  # not installed (a source tree on sys.path), or broken metadata
        return None, None
    try:
        location = str(distribution.locate_file(""))
    except Exception:
        location = None
    try:
        direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    except (ValueError, OSError):
        direct_url = {}
    if isinstance(direct_url, dict) and (direct_url.get("dir_info") or {}).get("editable"):
        return "editable", location
    installer = (distribution.read_text("INSTALLER") or "").strip().lower()
    return _INSTALLERS.get(installer), location


def python_package_manager(probe: Probe, env_type: str, installed_with: str | None) -> str:
    """poetry, pipenv, uv, conda or pip: the tool that manages this environment."""
    if "POETRY_ACTIVE" in probe.environ:
        return "poetry"
    if "PIPENV_ACTIVE" in probe.environ:
        return "pipenv"
    if env_type == "uv" or installed_with == "uv" or "UV" in probe.environ:
        return "uv"
    if env_type == "conda" or installed_with == "conda":
        return "conda"
    return "pip"


# --- ML libraries (found, never imported) ---------------------------------------------------

# payload key -> (importable module names, distribution names carrying its version)
ML_LIBRARIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "torch": (("torch",), ("torch",)),
    "transformers": (("transformers",), ("transformers",)),
    "diffusers": (("diffusers",), ("diffusers",)),
    "tensorflow": (("tensorflow",), ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos",
                                     "tensorflow-intel", "tf-nightly")),
    "keras": (("keras",), ("keras",)),
    "pytorch_lightning": (("pytorch_lightning", "lightning"), ("pytorch-lightning", "lightning")),
    "fastai": (("fastai",), ("fastai",)),
}
# Frameworks, in the order that decides the primary one: (name sent, module).
FRAMEWORKS = (("pytorch", "torch"), ("tensorflow", "tensorflow"), ("JAX", "jax"))


def ml_libraries(probe: Probe) -> dict[str, str | None]:
    """{payload key: version or None} of the ML libraries installed (absent ones left out)."""
    found: dict[str, str | None] = {}
    for key, (modules, distributions) in ML_LIBRARIES.items():
        if any(probe.installed(module) for module in modules):
            found[key] = probe.version_of(*distributions)
    return found


def frameworks_installed(probe: Probe) -> tuple[str, ...]:
    return tuple(name for name, module in FRAMEWORKS if probe.installed(module))


def framework_detected(probe: Probe) -> str:
    """The framework this process has imported (the user's code did): pytorch, tensorflow,
    JAX or none. Looks at the imported modules only."""
    for name, module in FRAMEWORKS:
        if module in probe.modules:
            return name
    return NONE


def primary_framework(probe: Probe, installed: tuple[str, ...]) -> str:
    """The framework in use, else the first installed (pytorch, tensorflow, JAX), else none."""
    in_use = framework_detected(probe)
    if in_use != NONE:
        return in_use
    return installed[0] if installed else NONE


# --- CUDA and cuDNN (no framework imported) -------------------------------------------------


def cuda_version(probe: Probe, nvml: Any = None) -> str | None:
    """The CUDA version: NVML's driver CUDA version (when the sampler loaded NVML), else
    ``CUDA_VERSION`` (NVIDIA's images), the CUDA runtime wheel, or the toolkit's version file."""
    if nvml is not None:
        try:
            number = int(nvml.nvmlSystemGetCudaDriverVersion())
            return f"{number // 1000}.{number % 1000 // 10}"
        except Exception:
            pass
    if probe.environ.get("CUDA_VERSION"):
        return probe.environ["CUDA_VERSION"].strip()
    wheel = probe.version_of("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime")
    if wheel:
        return wheel
    try:
        data = json.loads(probe.file("/usr/local/cuda/version.json").read_text(encoding="utf-8"))
        return str(data["cuda"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        text = probe.file("/usr/local/cuda/version.txt").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", text)
    return match.group(1) if match else None


_CUDNN_HEADERS = ("/usr/include/cudnn_version.h", "/usr/local/cuda/include/cudnn_version.h")
_CUDNN_DEFINE = re.compile(r"#define\s+CUDNN_(MAJOR|MINOR|PATCHLEVEL)\s+(\d+)")


def cudnn_version(probe: Probe) -> str | None:
    """The cuDNN version: ``CUDNN_VERSION`` (NVIDIA's images), the cuDNN wheel, or a header."""
    if probe.environ.get("CUDNN_VERSION"):
        return probe.environ["CUDNN_VERSION"].strip()
    wheel = probe.version_of("nvidia-cudnn-cu12", "nvidia-cudnn-cu11", "nvidia-cudnn")
    if wheel:
        return wheel
    headers = [probe.file(path) for path in _CUDNN_HEADERS]
    headers += sorted(probe.file("/usr/include").glob("*/cudnn_version*.h"))
    for header in headers:
        try:
            parts = dict(_CUDNN_DEFINE.findall(header.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
        if "MAJOR" in parts:
            return ".".join(parts[k] for k in ("MAJOR", "MINOR", "PATCHLEVEL") if k in parts)
    return None


def gpu_driver_version(nvml: Any) -> str | None:
    if nvml is None:
        return None
    try:
        value = nvml.nvmlSystemGetDriverVersion()
    except Exception:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def machine_id(probe: Probe) -> str | None:
    """The system's machine id (systemd / D-Bus), the input of the opt-in fingerprint."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            text = probe.file(path).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if text:
            return text
    return None


# --- what does not change while the process runs ---------------------------------------------


@dataclass(frozen=True)
class StaticEnvironment:
    """The facts of the environment that stay put for the life of a process."""

    python_env_type: str
    install_method: str | None
    package_manager: str
    ci_environment: str
    container_runtime: str
    libraries: Mapping[str, str | None]
    frameworks_installed: tuple[str, ...]
    cuda_version: str | None
    cudnn_version: str | None


def static_environment(probe: Probe, nvml: Any = None) -> StaticEnvironment:
    """Detect everything in StaticEnvironment (a few milliseconds: metadata and file reads)."""
    method, location = install_method(probe)
    env_type = python_env_type(probe, location)
    return StaticEnvironment(
        python_env_type=env_type,
        install_method=method,
        package_manager=python_package_manager(probe, env_type, method),
        ci_environment=ci_environment(probe),
        container_runtime=container_runtime(probe),
        libraries=ml_libraries(probe),
        frameworks_installed=frameworks_installed(probe),
        cuda_version=cuda_version(probe, nvml),
        cudnn_version=cudnn_version(probe),
    )
