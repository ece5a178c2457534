"""End-to-end tests that drive the notebooks in a real JupyterLab through headless Chromium (Playwright)."""
