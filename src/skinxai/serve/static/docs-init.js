// Starts Swagger UI on /docs from the locally served bundle (no CDN, no inline script).
"use strict";
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
