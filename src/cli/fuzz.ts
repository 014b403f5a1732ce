export async function main(argv: string[]): Promise<number> {
  void argv;
  console.error('tsvpp fuzz: not wired yet');
  return 2;
}
