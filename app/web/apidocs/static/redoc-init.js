// ReDoc's start, as a file: the page's Content-Security-Policy runs no inline script.
const root = document.getElementById("redoc");
Redoc.init(root.dataset.openapi, {}, root);
