// Prints its environment as the body, one NAME=VALUE a line: the test reads
// back the CGI meta-variables it was given.
#include <stdio.h>

extern char** environ;

int main(void) {
  printf("Content-Type: text/plain\n\n");
  for (char** e = environ; *e != NULL; ++e) {
    printf("%s\n", *e);
  }
  return 0;
}
