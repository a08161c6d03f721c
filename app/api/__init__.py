"""The public JSON API (/api/v1, issue 20): API keys per organization, problem details,
idempotent POSTs and the OpenAPI document generated from the code (flask-smorest).

It sits just under the composition root: its endpoints read and write through the
feature packages' services (contacts today; campaigns, workshops and reports later), the
same rules as the web pages, so it may import any of them and none imports it."""
