"""xnas: Neural Architecture Search with Expert Advice (Nayman et al., NeurIPS 2019).

``xnas.pea`` is the prediction-with-expert-advice simulator, ``xnas.nas`` the
PyTorch search and training backend, ``xnas.analysis`` the paper's figures and
``xnas.cli`` the two console scripts, ``xnas-sim`` and ``xnas-nas``.
"""

__version__ = "0.1.0"
