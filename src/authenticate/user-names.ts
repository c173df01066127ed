import type { Config, IssuerConfig } from '../config/schema.js';

/**
 * How behalf names the users of each trusted issuer, so that two IdPs that both have a user
 * `alice` never meet in one name. Users of the home issuer keep the ids their IdP gives them
 * (`alice`); users of any other issuer are written `<issuer id>:<their id>` (`partner:alice`).
 * That one name is what policy sees as `user.id`, what the directory is looked up by, what the
 * signed assertion's `sub` carries, what limits count and what the audit trail shows.
 *
 * The home issuer is the one the operator maps plain ids to: `directory.issuer`, or the only
 * issuer. Other entries with the same `iss` (one IdP, several audiences) are home too. With
 * several issuers and no home, every id is qualified.
 *
 * A tenant read from a claim is qualified the same way (an issuer's fixed `tenant` is the
 * operator's own name and is kept as written).
 *
 * This does NOT qualify the acting client (`user.client`): limits and revocations keep the
 * client apart per issuer themselves. It does NOT qualify ids inside the directory (`manager`):
 * the directory names the home issuer's users, and names another issuer's users qualified.
 */
export interface UserNames {
  /** `''` for the home issuer's users, else `<id>:` (the first entry with that `iss`). */
  prefixOf(issuer: IssuerConfig): string;
  /**
   * True when a home user's own id starts with another issuer's prefix (`partner:alice` from
   * the home IdP): that name would be someone else's, so the token is refused.
   */
  collides(plainId: string): boolean;
}

export function createUserNames(issuers: readonly IssuerConfig[], homeIssuerId: string | undefined): UserNames {
  const home = homeIssuerId ?? (issuers.length === 1 ? issuers[0]!.id : undefined);
  const homeIss = issuers.find((i) => i.id === home)?.issuer;
  const prefixByIss = new Map<string, string>();
  for (const issuer of issuers) {
    if (issuer.issuer === homeIss || prefixByIss.has(issuer.issuer)) continue;
    prefixByIss.set(issuer.issuer, `${issuer.id}:`);
  }
  const foreign = new Set(prefixByIss.values());
  return {
    prefixOf: (issuer) => prefixByIss.get(issuer.issuer) ?? '',
    collides(plainId) {
      const colon = plainId.indexOf(':');
      return colon > 0 && foreign.has(plainId.slice(0, colon + 1));
    },
  };
}

/** The id of the home issuer: `directory.issuer`, else the only issuer (none with several). */
export function homeIssuerOf(config: Pick<Config, 'directory' | 'issuers'>): string | undefined {
  return config.directory?.issuer ?? (config.issuers.length === 1 ? config.issuers[0]!.id : undefined);
}
