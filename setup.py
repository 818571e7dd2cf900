"""Packaging for freepbx-callback; versions are pinned in requirements*.txt only."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def pins(name: str) -> list[str]:
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def version() -> str:
    for line in (HERE / "freepbx_callback" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError("no __version__")


setup(
    name="freepbx-callback",
    version=version(),
    description="Queue callback for FreePBX and plain Asterisk",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="GPL-3.0-or-later",
    python_requires=">=3.11",
    packages=find_packages(include=["freepbx_callback", "freepbx_callback.*"]),
    package_data={"freepbx_callback": ["dialplan/templates/*.j2", "sounds/*/*.wav", "py.typed"]},
    install_requires=pins("requirements.txt"),
    extras_require={"test": pins("requirements-dev.txt")},
    entry_points={"console_scripts": ["freepbx-callback=freepbx_callback.cli:main"]},
)
