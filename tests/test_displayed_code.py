"""What a page shows is the idea: the library code the chapters display (``Chapter.shows``) holds no plumbing.

No counting of work (``work.``: tutorial_lib.runtime.work.counted decorates the codec instead), no distributed
calls (``dist.``), and no device moves of the function's own inputs (``x.to(device)``, ``noise[i].to(x)``,
``self.scale(x).to(...)``: a ``.to`` of anything made of an argument): the decorator tutorial_lib.runtime.devices.on_model_device and the U-Nets' forward
pre-hook move them around the function. A cast to a dtype (``.to(x.dtype)``) is arithmetic, not plumbing, and a
tensor the function draws itself on the CPU may be put on a device.
"""

import ast
import importlib
import inspect
import textwrap

import pytest

from tutorial_lib.book.chapters import CHAPTERS

SHOWN = sorted({name for chapter in CHAPTERS.values() for name in chapter.shows})


def displayed_source(name: str) -> str:
    module, qualified = name.split(":")
    obj = importlib.import_module(f"tutorial_lib.{module}")
    for part in qualified.split("."):
        obj = getattr(obj, part)
    return textwrap.dedent(inspect.getsource(obj))


def _names(node: ast.AST) -> set[str]:
    """The variables an expression is made of: ``x`` and ``t`` of ``f(t.reshape(-1), 8) + x``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_dtype(node: ast.AST) -> bool:
    """``x.dtype``, ``torch.float32`` and the like."""
    return (isinstance(node, ast.Attribute) and (node.attr == "dtype" or (
        isinstance(node.value, ast.Name) and node.value.id == "torch" and node.attr.startswith(("float", "bfloat",
                                                                                                 "int", "long", "half", "double")))))


def plumbing(source: str) -> list[str]:
    """The lines of ``source`` that count work, call torch.distributed or move an input to a device."""
    found = [line.strip() for line in source.splitlines() if "work." in line or "dist." in line]
    tree = ast.parse(source)
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        arguments = function.args
        inputs = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
        inputs |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
            if not (isinstance(call.func, ast.Attribute) and call.func.attr == "to"):
                continue
            dtype_only = (all(_is_dtype(a) for a in call.args)
                          and all(k.arg == "dtype" for k in call.keywords) and (call.args or call.keywords))
            if _names(call.func.value) & inputs and not dtype_only:
                found.append(ast.get_source_segment(source, call))
    return found


def test_the_check_finds_plumbing_of_each_kind():
    """Known-bad code, as the displayed functions were written before (codec.py, unet.py, training.py)."""
    bad = '''
def decode(self, latents):
    work.add("decode mel", len(latents))
    return latents

def forward(self, x, t, conditions=None):
    x = x.to(self.conv_in.weight.device)
    emb = self.time_mlp(sinusoidal_embedding(t.reshape(-1), 8).to(x))
    return self.condition_emb(conditions.to(x.device)) + emb

def fit(model, latents, device):
    for i in range(3):
        yield step(model, latents[i].to(device)), dist.get_rank()
'''
    assert len(plumbing(bad)) == 6, plumbing(bad)
    good = '''
def forward(self, x, t):
    n = torch.randn(4)
    return self.time_mlp(t.reshape(-1, 1).to(x.dtype)) + torch.sigmoid(n).to(x.device)
'''
    assert plumbing(good) == []


@pytest.mark.parametrize("name", SHOWN)
def test_a_displayed_function_shows_no_plumbing(name):
    assert plumbing(displayed_source(name)) == [], f"{name} displays plumbing: move it around the function"


def test_the_flow_loss_shows_the_loss_in_about_ten_lines():
    source = displayed_source("flow:RectifiedFlow.loss")
    function = ast.parse(source).body[0]
    body = function.body[1:] if isinstance(function.body[0].value, ast.Constant) else function.body  # no docstring
    assert body[-1].end_lineno - body[0].lineno + 1 <= 10
