// aibt's Swagger UI: the description generated from the server's code, nothing fetched from
// elsewhere (no validator badge, which would call swagger.io).
window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
