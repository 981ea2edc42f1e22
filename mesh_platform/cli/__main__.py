from mesh_platform.cli.app import main

main()
