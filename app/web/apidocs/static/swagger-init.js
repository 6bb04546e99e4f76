// Swagger UI's start, as a file: the page's Content-Security-Policy runs no inline script.
const root = document.getElementById("swagger");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapi,
  dom_id: "#swagger",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // the pasted key stays in this tab's memory, never in localStorage
  persistAuthorization: false,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
