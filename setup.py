"""Install lesson8_nlp. Metadata comes from settings.ini (nbdev 2's project file)."""
from configparser import ConfigParser
from setuptools import find_packages, setup

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

# torch is not pinned to one release: any 2.x from 2.1 on works (CI installs the CPU build first).
requirements = [
    'torch>=2.1',
    'numpy',
    'pandas',
    'matplotlib',
    'tqdm',
    'spacy>=3.5,<4',
    'sentencepiece>=0.1.99',
    'pythainlp>=5',
    'ipywidgets>=8',
    'fastcore>=1.5,<2',  # L, first, coll_repr, range_of, Path.ls for `from lesson8_nlp.all import *` (nbdev needs it too)
]
# nbdev 3 refuses settings.ini; nbdev 2.4.x + execnb<0.2 + fastcore<2 is the set that resolves cleanly.
dev_requirements = [
    'nbdev>=2.4,<3',
    'execnb<0.2',
    'fastcore<2',
    'jupyterlab',
    'hypothesis',
]
# tests/e2e_widgets.py: Playwright drives the system's chromium (Debian's package); it never downloads a browser.
e2e_requirements = ['playwright']

setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    author=cfg['author'],
    license='Apache Software License 2.0',
    python_requires='>=' + cfg['min_python'],
    packages=find_packages(include=['lesson8_nlp', 'lesson8_nlp.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements, 'e2e': e2e_requirements},
    entry_points={
        'console_scripts': ['lesson8=lesson8_nlp.cli:main'],
        'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    zip_safe=False,
)
