-- Webhook delivery limits. An endpoint has at most one delivery in flight: claiming one leases the endpoint
-- (`busy_until`, released when the attempt is recorded, or left to expire if the deliverer died). A circuit
-- breaker pauses an endpoint that keeps failing (`consecutive_failures`, `paused_until`). `last_attempt_at`
-- orders endpoints fairly when slots are scarce.
alter table webhook_endpoints add column busy_until timestamptz;
alter table webhook_endpoints add column last_attempt_at timestamptz;
alter table webhook_endpoints add column consecutive_failures integer not null default 0;
alter table webhook_endpoints add column paused_until timestamptz;
create index webhook_endpoints_merchant_active on webhook_endpoints (merchant_id) where disabled_at is null;

-- The first bytes of the endpoint's last answer (the deliverer reads no more), for the delivery log.
alter table webhook_deliveries add column last_response_body text;

-- Disabling an endpoint cancels what it still had queued.
alter table webhook_deliveries drop constraint webhook_deliveries_status_check;
alter table webhook_deliveries add constraint webhook_deliveries_status_check
  check (status in ('pending', 'delivering', 'delivered', 'failed', 'cancelled'));
create index webhook_deliveries_endpoint_open on webhook_deliveries (endpoint_id, id)
  where status in ('pending', 'delivering');

-- Endpoints disabled before this migration kept retrying: their queued deliveries are cancelled now.
update webhook_deliveries d set status = 'cancelled', updated_at = now()
  from webhook_endpoints e
  where e.id = d.endpoint_id and e.disabled_at is not null and d.status in ('pending', 'delivering');
