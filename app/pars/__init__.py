"""PARS knowledge: boards, error codes, validation, file formats, web-service client. No Qt, no ORM."""
