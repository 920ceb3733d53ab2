-- +goose Up
-- 0001's kopilka_immutable() read OLD.status for postings as well, which
-- have no such column; PL/pgSQL evaluates the whole condition, so a change
-- to a posting failed with "record old has no field status" (42703) rather
-- than with the intended refusal (P0001). Look at the status only for
-- operations.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION kopilka_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'operations' AND TG_OP = 'UPDATE' THEN
        IF OLD.status = 'pending' THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'kopilka: % of %.% is not allowed: posted history is immutable', TG_OP, TG_TABLE_NAME, OLD
        USING ERRCODE = 'P0001';
END;
$$;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
