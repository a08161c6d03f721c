"""Organizations (NGOs): settings and the tenancy root."""
