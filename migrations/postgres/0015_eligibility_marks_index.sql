-- Every command reads a person's approved eligibility extensions for the role it names
-- (`Store::eligibility_marks`); approved extensions accumulate with each renewal, so the read
-- searches this index instead of scanning the table's history.
CREATE INDEX eligibility_extensions_approved ON eligibility_extensions (person, role, requested_until)
    WHERE state = 'approved';
