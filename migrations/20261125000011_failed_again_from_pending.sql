-- A job's dead letters stay 'pending' while their replay is in flight (the job item says
-- 'sending'); a replayed message can come back before the job has settled its batch. The
-- replay row proves it was replayed, so 'pending' is marked 'failed_again' too.
CREATE OR REPLACE FUNCTION dead_letters_failed_again() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.replay_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        UPDATE dead_letters d SET status = 'failed_again'
        FROM replays r
        WHERE r.replay_id = NEW.replay_id::uuid AND d.id = r.dead_letter_id
          AND r.status IN ('sending', 'sent')
          AND d.status IN ('pending', 'replaying', 'replayed');
    END IF;
    RETURN NULL;
END $$;
