-- Schema and seed rows of the example application (PostgreSQL).
CREATE TABLE tenants (
    id            serial PRIMARY KEY,
    slug          text NOT NULL UNIQUE,
    name          text NOT NULL,
    host          text NOT NULL UNIQUE,
    primary_color text NOT NULL,
    logo_url      text NOT NULL,
    active        boolean NOT NULL DEFAULT true
);

CREATE TABLE theme_settings (
    tenant_id integer NOT NULL REFERENCES tenants(id),
    key       text NOT NULL,
    value     text NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE users (
    id        serial PRIMARY KEY,
    tenant_id integer NOT NULL REFERENCES tenants(id),
    username  text NOT NULL UNIQUE,
    email     text NOT NULL,
    password  text NOT NULL,
    balance   numeric(12, 2) NOT NULL DEFAULT 0,
    role      text NOT NULL DEFAULT 'player'
);

CREATE TABLE sports (
    id     serial PRIMARY KEY,
    name   text NOT NULL UNIQUE,
    active boolean NOT NULL DEFAULT true
);

CREATE TABLE events (
    id        serial PRIMARY KEY,
    sport_id  integer NOT NULL REFERENCES sports(id),
    home      text NOT NULL,
    away      text NOT NULL,
    odds_home numeric(6, 2) NOT NULL,
    odds_away numeric(6, 2) NOT NULL
);

CREATE TABLE bets (
    id       serial PRIMARY KEY,
    user_id  integer NOT NULL REFERENCES users(id),
    event_id integer NOT NULL REFERENCES events(id),
    pick     text NOT NULL CHECK (pick IN ('home', 'away')),
    stake    numeric(12, 2) NOT NULL,
    payout   numeric(12, 2) NOT NULL DEFAULT 0,
    status   text NOT NULL DEFAULT 'open'
);

CREATE TABLE registrations (
    id        serial PRIMARY KEY,
    tenant_id integer NOT NULL REFERENCES tenants(id),
    username  text NOT NULL UNIQUE,
    email     text NOT NULL
);

INSERT INTO tenants (slug, name, host, primary_color, logo_url) VALUES
    ('acme', 'Acme Bets', 'acme.example.test', '#d32f2f', '/static/acme.png'),
    ('zenith', 'Zenith Sports', 'zenith.example.test', '#1976d2', '/static/zenith.png'),
    ('orbit', 'Orbit Odds', 'orbit.example.test', '#388e3c', '/static/orbit.png');

INSERT INTO theme_settings (tenant_id, key, value) VALUES
    (1, 'font', 'Inter'), (1, 'radius', '4px'),
    (2, 'font', 'Roboto'), (2, 'radius', '8px'),
    (3, 'font', 'Lato');

INSERT INTO users (tenant_id, username, email, password, balance, role) VALUES
    (1, 'alice', 'alice@acme.test', 'pw-alice', 120.00, 'player'),
    (1, 'bob', 'bob@acme.test', 'pw-bob', 80.50, 'player'),
    (2, 'carol', 'carol@zenith.test', 'pw-carol', 300.00, 'player'),
    (2, 'dave', 'dave@zenith.test', 'pw-dave', 15.25, 'admin'),
    (3, 'erin', 'erin@orbit.test', 'pw-erin', 42.00, 'superadmin');

INSERT INTO sports (name, active) VALUES
    ('football', true), ('tennis', true), ('cricket', false);

INSERT INTO events (sport_id, home, away, odds_home, odds_away) VALUES
    (1, 'Lions', 'Tigers', 1.80, 2.10),
    (1, 'Bears', 'Wolves', 2.50, 1.55),
    (2, 'Nadal', 'Federer', 1.95, 1.95),
    (3, 'Kent', 'Essex', 1.70, 2.30);

INSERT INTO bets (user_id, event_id, pick, stake, payout, status) VALUES
    (1, 1, 'home', 10.00, 18.00, 'won'),
    (1, 2, 'away', 5.00, 0.00, 'lost'),
    (2, 1, 'away', 20.00, 42.00, 'won'),
    (3, 3, 'home', 50.00, 97.50, 'won'),
    (4, 2, 'home', 8.00, 0.00, 'lost'),
    (5, 4, 'away', 12.00, 27.60, 'won');
