import pytest
import torch

# Tiny networks run fastest on one thread, and it is fairest to a shared 2-core machine (and to the Voilà server
# that browser tests start beside pytest).
torch.set_num_threads(1)


# The real-browser tests (tests/_browser.py): one playwright and one headless chromium per test module, for the
# modules that open a fresh browser context per page.  tests/test_browser.py and test_phase_browser.py define their
# own `browser` (a persistent context), which takes precedence there.
@pytest.fixture(scope="module")
def playwright():
    from _browser import sync_playwright
    start = sync_playwright()  # skips, or fails under CI, without chromium/playwright: before starting a server
    with start() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright):
    from _browser import launched_chromium
    with launched_chromium(playwright) as instance:
        yield instance
