/**
 * What both demos print once everything is up: where the web console is, who
 * to sign in as, how to reach it from the CLI, and where the logs go. The
 * lines each topology adds come as sections of their own.
 */
export interface DemoBanner {
  title: string;
  /** The deployment's URL: the one process, or the manager of the regional topology. */
  url: string;
  password: string;
  logDir: string;
  /** Further blocks of lines, each printed indented and followed by a blank line. */
  sections?: readonly (readonly string[])[];
}

export function demoBannerText(banner: DemoBanner): string {
  const lines = [
    '',
    `  ${banner.title}`,
    '',
    `  web console   ${banner.url}/`,
    `  API docs      ${banner.url}/docs`,
    '',
    `  provider admin   user admin      password ${banner.password}`,
    `  tenant operator  user operator   password ${banner.password}   (tenant "demo")`,
    '',
    `  CLI: node cli/bin/lightsout.js login --relay ${banner.url}`,
    `       node cli/bin/lightsout.js servers list`,
    '',
    ...(banner.sections ?? []).flatMap((section) => [...section.map((line) => `  ${line}`), '']),
    `  logs: ${banner.logDir}   stop: Ctrl-C`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}
