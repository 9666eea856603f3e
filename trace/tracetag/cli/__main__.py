from tracetag.cli import main

main()
