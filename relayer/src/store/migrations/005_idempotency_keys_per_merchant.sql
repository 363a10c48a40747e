-- Idempotency keys belong to the merchant, not to one of its API keys: two API keys of a merchant sending the same
-- Idempotency-Key never both execute. The admin and the arbiter keep a scope each ("admin", "arbiter"), anonymous
-- buyers share "anonymous". The API key that made the first request is kept: only it gets the replay.
alter table idempotency_keys add column api_key_id text;

comment on column idempotency_keys.scope is
  'Whose keys: the merchant id of a merchant API key, "admin", "arbiter", or "anonymous" (no API key)';
comment on column idempotency_keys.api_key_id is
  'The API key of the first request ("admin", "arbiter" for the keys from configuration; null without a key)';

-- Rows stored before were scoped by the API key's id, which is also the key that made them.
update idempotency_keys set api_key_id = nullif(scope, 'anonymous');

-- Each row moves to its API key's merchant (an arbiter key's: "arbiter"). Where several keys of one merchant used
-- the same Idempotency-Key, the first request's row is kept: a retry by the others gets 409.
with target as (
  select i.scope, i.key,
         row_number() over (partition by coalesce(k.merchant_id, k.role, i.scope), i.key
                            order by i.created_at, i.scope) as n
  from idempotency_keys i left join api_keys k on k.id = i.scope
)
delete from idempotency_keys i using target t where t.scope = i.scope and t.key = i.key and t.n > 1;

update idempotency_keys i set scope = coalesce(k.merchant_id, k.role) from api_keys k where k.id = i.scope;

-- Keys expire IDEMPOTENCY_TTL_HOURS (24 by default) after their first request; the purge finds them by age.
create index idempotency_keys_created_at on idempotency_keys (created_at);
