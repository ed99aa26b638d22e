// Starts Swagger UI on the page. It lives in its own file, not inline in
// index.html, so the page runs under a Content-Security-Policy that allows
// scripts from this origin only.
window.addEventListener('load', function () {
  'use strict';
  window.ui = SwaggerUIBundle({
    url: '/v1/openapi.json',
    dom_id: '#ui',
    deepLinking: true,
    // Operation ids are the names of the functions that serve them.
    displayOperationId: true,
    tryItOutEnabled: false,
    // The default validator badge calls a third-party service, which the
    // policy blocks anyway; the contract is validated by our tests instead.
    validatorUrl: null
  });
});
