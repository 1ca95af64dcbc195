"""Packaging glue that pyproject.toml cannot say: the top-level data folders travel inside the wheel.

personas/, workflows/ and templates/ stay at the top of the repository (the design's layout); a built
wheel carries them as engine/_data/<name>, where engine.config finds them when the package is installed.
"""

from setuptools import find_packages, setup

DATA = {"personas": ["*.md"], "workflows": ["*.yaml"], "templates": ["prompts/*.j2", "artifacts/*.j2"]}

setup(
    packages=find_packages(include=["engine", "engine.*"]) + [f"engine._data.{name}" for name in DATA],
    package_dir={f"engine._data.{name}": name for name in DATA},
    package_data={"engine": ["data/*.json"],  # the shipped truth calibration (engine/verify/calibration.py)
                  **{f"engine._data.{name}": globs for name, globs in DATA.items()}},
)
